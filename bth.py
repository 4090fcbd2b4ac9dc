"""`import bth`: what a tracked script needs from bathos.

    import bth

    @bth.experiment(name="benchmark_tip3p", tags=["tip3p"])
    def main(n_steps: int = 1000) -> dict[str, float]:
        bth.log(step_time=0.02)
        (bth.output_dir() / "energies.csv").write_text("...")
        return {"energy": -41.2}
"""

from bathos.scripting import current_run_id, experiment, log, output_dir

__all__ = ["current_run_id", "experiment", "log", "output_dir"]
