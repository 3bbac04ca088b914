"""Functions of the topology as local Lambdas: handler loaded from its file, invoked with a
Lambda context, one invocation at a time."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra import topology

log = logging.getLogger(__name__)


@dataclass
class LambdaContext:
    """The attributes of the context object the Python runtime passes to a handler."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    identity: Any = None  # set only for calls from the AWS Mobile SDK
    client_context: Any = None
    _deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(function: topology.Function) -> Callable[[dict, Any], Any]:
    """Import ``<code_dir>/handler.py`` under a module name of its own (every function's file
    is called handler.py) and return its ``handler``. Import after the environment is set:
    handlers read it at import, as they do at a Lambda cold start."""
    path = function.code_dir / "handler.py"
    if not path.is_file():
        raise FileNotFoundError(f"function {function.name!r} has no handler at {path}")
    spec = importlib.util.spec_from_file_location(f"ticketflow_function_{function.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.handler


# One invocation at a time in this process. Lambda gives each invocation a container of its
# own; here all functions share one interpreter, and Powertools keeps the current event in a
# class attribute shared by every resolver (BaseRouter.current_event), so two handlers running
# at once, even two different functions, would read each other's requests.
_INVOKE_LOCK = threading.Lock()


class LocalFunction:
    def __init__(self, function: topology.Function, *, prefix: str, region: str, account: str) -> None:
        self.spec = function
        self.name = f"{prefix}-{function.name}"
        self.arn = f"arn:aws:lambda:{region}:{account}:function:{self.name}"
        self._handler = load_handler(function)

    def context(self) -> LambdaContext:
        return LambdaContext(self.name, self.spec.memory_mb, self.arn, self.spec.timeout_s)

    def invoke(self, event: dict[str, Any]) -> Any:
        with _INVOKE_LOCK:
            context = self.context()
            result = self._handler(event, context)
        if context.get_remaining_time_in_millis() == 0:
            # Not enforced here, but on AWS this invocation would have been killed.
            log.warning("%s ran past its %d s timeout", self.spec.name, self.spec.timeout_s)
        # Lambda serialises the result to JSON: what JSON cannot carry fails there, so here too.
        return json.loads(json.dumps(result))
