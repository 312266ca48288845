"""The exceptions lobkit raises for bad input. Each names what was wrong and where."""


class LobkitError(Exception):
    """Base class of every error lobkit raises on purpose."""


class BookError(LobkitError):
    """An order-book operation was rejected (capacity, unknown id, bad size or price, ...)."""


class InputFormatError(LobkitError, ValueError):
    """An input file is malformed. The message names the file and the line or row."""

    def __init__(self, path, line, message):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class ConfigError(LobkitError, ValueError):
    """A configuration value is invalid. The message names the field."""


class AgentError(LobkitError):
    """A strategic agent made a mistake (its ``act`` raised, returned something that is not a list of orders, or
    an order that cannot be right). The message names the agent, the simulated time and the order."""
