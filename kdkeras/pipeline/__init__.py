"""`kdkeras run`: the whole job, from a config, in a run folder that resumes.

Imported by the command line only: `import kdkeras` does not import it.
"""

from kdkeras.pipeline.run_data import RunData, load_run_data
from kdkeras.pipeline.run_folder import RunFolder, RunFolderError
from kdkeras.pipeline.runner import (
    planned_stages,
    resume_run,
    run_stages,
    start_run,
)
