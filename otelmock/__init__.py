"""otelmock: mock monitoring data for LLM-serving GPU servers."""
__version__ = "0.1.0"
__all__ = ["__version__"]
