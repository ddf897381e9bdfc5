"""gunicorn's settings for the web process: the Procfile's
``--config python:survey_app.gunicorn_conf``."""

import gc


def post_worker_init(worker):
    """The app a worker has just loaded (its modules, the Flask app, SQLAlchemy's metadata, the
    translations) lives as long as the worker: :func:`gc.freeze` leaves those objects out of the
    garbage collector's full passes, which otherwise walk every one of them again (about 0.1 s
    in one report request in five, BENCHMARKS.md). The charts' JavaScript engine is started
    first, so an official's first page in a new worker does not wait for it (~0.3 s)."""
    from survey_app.dashboard.charts import start_engine

    seconds = start_engine()
    worker.log.info("worker %s: the charts' engine started in %.2f s", worker.pid, seconds)
    gc.freeze()
    worker.log.info(
        "worker %s: %d objects of the loaded app frozen", worker.pid, gc.get_freeze_count()
    )
