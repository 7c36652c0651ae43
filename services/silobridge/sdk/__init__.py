"""Jobs as Python code: ``from silobridge.sdk import Pipeline, components``.

    from silobridge.sdk import Pipeline, components as c

    pipe = Pipeline(guest=9999, host=10000, arbiter=10001, initiator=9999, timeout_s=900)
    reader = pipe.add(
        c.reader("reader_0").at("guest", table="demo.guest", require_label=True).at("host", table="demo.host")
    )
    psi = pipe.add(c.psi("psi_0", data=reader.outputs.data))
    lr = pipe.add(c.hetero_lr("hetero_lr_0", data=psi.outputs.data, epochs=5, batch_size=128))
    pipe.add(c.evaluation("evaluation_0", data=lr.outputs.predictions))
    job = pipe.submit("http://127.0.0.1:9380")
    job.wait()                      # a progress bar on a terminal
    job.summary("evaluation_0")     # {"auc": ..., ...}

``pipe.to_yaml()`` is the YAML that ``silobridge job submit -f`` takes; ``Pipeline.from_yaml``
reads one back.
"""

from silobridge.sdk import components
from silobridge.sdk.job import Job
from silobridge.sdk.pipeline import Input, Output, Pipeline, Task

__all__ = ["Input", "Job", "Output", "Pipeline", "Task", "components"]
