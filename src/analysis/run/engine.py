"""The papermill engine of a run: papermill's own (nbclient), with two differences.

- papermill writes the executed notebook at the start and the end of every cell, for somebody
  watching a notebook that runs for hours (30 writes of a 600 KB notebook for the growth brief,
  about 0.2 s). A run's notebooks take seconds, so the notebook is written once: by papermill when
  it ends, or here when the kernel died or timed out, which papermill leaves unwritten.
- papermill records the machine's absolute paths in the notebook; the run records them relative
  (the notebook as the project names it, the executed one as the run's folder does).

Registered with papermill's public engine registry under `ENGINE`; `papermill.execute_notebook(...,
engine_name=ENGINE, recorded_paths={...})` uses it.
"""

from __future__ import annotations

from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
from papermill.iorw import write_ipynb

ENGINE = "workbook"


class _WrittenOnce(NotebookExecutionManager):
    """Tracks the execution as papermill does, without writing the notebook on every change."""

    def save(self, **kwargs) -> None:
        self.last_save_time = self.now()


class WorkbookEngine(NBClientEngine):
    @classmethod
    def execute_notebook(
        cls,
        nb,
        kernel_name,
        output_path=None,
        progress_bar=True,
        log_output=False,
        autosave_cell_every=30,
        recorded_paths: dict[str, str] | None = None,
        **kwargs,
    ):
        """As papermill's Engine.execute_notebook, with the manager above; `recorded_paths` replace
        the paths papermill records in the notebook's metadata."""
        manager = _WrittenOnce(
            nb,
            output_path=output_path,
            progress_bar=progress_bar,
            log_output=log_output,
            autosave_cell_every=autosave_cell_every,
        )
        manager.notebook_start()
        try:
            cls.execute_managed_notebook(manager, kernel_name, log_output=log_output, **kwargs)
        except BaseException:
            manager.notebook_complete()
            _record(manager.nb, recorded_paths)
            if output_path:
                write_ipynb(manager.nb, output_path)
            raise
        finally:
            manager.cleanup_pbar()
        manager.notebook_complete()
        _record(manager.nb, recorded_paths)
        return manager.nb


def _record(nb, paths: dict[str, str] | None) -> None:
    recorded = nb.metadata.get("papermill")
    if paths and recorded is not None:
        recorded.update(paths)


papermill_engines.register(ENGINE, WorkbookEngine)
