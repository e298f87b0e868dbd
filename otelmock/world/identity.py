"""Derived identity (DESIGN invariant 7): names and ids are stable hashes of (seed, host index)."""

from __future__ import annotations

from dataclasses import dataclass

from otelmock.config import Settings
from otelmock.rng import hash_uniform, identity_hex, key_of

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class HostIdentity:
    seed: int
    index: int
    hostname: str
    machine_id: str
    boot_period_s: float
    boot_phase_s: float

    def key(self, *parts: object) -> int:
        """The RNG key of one signal of this host."""
        return key_of(self.seed, self.index, *parts)

    def boot_time(self, t: float) -> float:
        """Boot time of the boot epoch that contains ``t``: the host reboots every ``boot_period_s``."""
        return t - ((t - self.boot_phase_s) % self.boot_period_s)


def derive_host(settings: Settings) -> HostIdentity:
    seed, index = settings.seed, settings.host.index
    hostname = settings.host.hostname or f"gpu-{identity_hex(seed, index, 'hostname', length=6)}-{index:02d}"
    period = settings.host.reboot_every_days * DAY_S
    phase = float(hash_uniform(key_of(seed, index, "boot"), 0)) * period
    # whole seconds, like /proc/stat btime
    return HostIdentity(seed, index, hostname, identity_hex(seed, index, "machine-id", length=32), period, round(phase))
