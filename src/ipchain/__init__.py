"""ipchain — a permissioned-blockchain register of trademark and design events for IP offices."""

__version__ = "0.1.0"
