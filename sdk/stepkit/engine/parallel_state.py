"""The Parallel state: every branch gets the same input; the result is their outputs."""

from __future__ import annotations

import concurrent.futures
from typing import TYPE_CHECKING, Any

from stepkit.asl.errors import StatesError
from stepkit.engine.frame import Frame
from stepkit.engine.states import Outcome, RecoverableState, mark_state_failed

if TYPE_CHECKING:
    from stepkit.engine.compiler import Compiler


class ParallelState(RecoverableState):
    type_name = "Parallel"
    entered_event = "ParallelStateEntered"
    exited_event = "ParallelStateExited"

    def __init__(self, name: str, definition: dict, compiler: Compiler) -> None:
        super().__init__(name, definition, compiler)
        self.branches = [
            compiler.program(branch, f"Branches/{i}") for i, branch in enumerate(definition["Branches"])
        ]
        self.blocking = any(b.blocking for b in self.branches)

    def execute(self, frame: Frame, raw: Any) -> Outcome:
        def attempt() -> Outcome:
            data = self.flow.effective_input(frame, raw)
            run = frame.run
            run.record("ParallelStateStarted", frame, None)
            try:
                results = self._run_branches(frame, data)
            except StatesError as err:
                raise mark_state_failed(err, "ParallelStateFailed") from None
            run.record("ParallelStateSucceeded", frame, None)
            return self.flow.output(frame, raw, results), self.next

        return self.recover(frame, raw, attempt)

    def _run_branches(self, frame: Frame, data: Any) -> list[Any]:
        run = frame.run
        start = frame.prev
        if not self.blocking or len(self.branches) == 1:
            return [run.run_program(branch, data, frame.child(start)) for branch in self.branches]
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(self.branches)) as pool:
            futures = [
                pool.submit(run.run_program, branch, data, frame.child(start)) for branch in self.branches
            ]
            try:
                return [f.result() for f in futures]
            except StatesError:
                run.abort_children(futures)
                raise
