"""The local runner behind `ticketflow dev` and `ticketflow invoke`.

The whole stack in one process, driven by ``infra.topology`` like the CDK stack is: an
embedded moto server (``emulator``), the functions' handlers loaded from their files
(``lambdas``), an HTTP gateway that authenticates and shapes events as API Gateway does
(``gateway``) that accepts local bearer tokens (``tokens``), queue pumps and schedule
tickers (``triggers``), and the outbox of sent email, SMS and events (``outbox``).
``runner.LocalStack`` puts them together.
"""
