"""ticketflow: the domain package shared by every Lambda function, the CLI and the tests."""

__version__ = "0.1.0"


def reset() -> None:
    """Forget everything a container caches (clients, settings, allocators, directory), as a
    fresh Lambda container would. For the local runner and the tests, which start several
    stacks in one process."""
    from ticketflow import aws, config, intake, runtime_config
    from ticketflow.storage import directory

    aws.reset()
    config.settings.cache_clear()
    intake.reset()
    runtime_config.reset()
    directory.clear_cache()
