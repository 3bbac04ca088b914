"""ticketflow: the domain package shared by every Lambda function, the CLI and the tests."""

__version__ = "0.1.0"
