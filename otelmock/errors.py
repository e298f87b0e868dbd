"""The error tree.

    OtelmockError
     +-- ConfigError      a setting is unknown, mistyped or out of range (names file, key, value)
     +-- ScenarioError    a scenario file or request is invalid (names file, key path, value)
     +-- StartupError     something the process needs is not available (a port in use, a path)
"""


class OtelmockError(Exception):
    """Base of every error otelmock raises on purpose."""


class ConfigError(OtelmockError):
    pass


class ScenarioError(OtelmockError):
    pass


class StartupError(OtelmockError):
    pass
