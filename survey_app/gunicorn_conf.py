"""gunicorn's settings for the web process: the Procfile's
``--config python:survey_app.gunicorn_conf``."""

import gc


def post_worker_init(worker):
    """The app a worker has just loaded (its modules, the Flask app, SQLAlchemy's metadata, the
    translations) lives as long as the worker: :func:`gc.freeze` leaves those objects out of the
    garbage collector's full passes, which otherwise walk every one of them again (about 0.1 s
    in one report request in five, BENCHMARKS.md)."""
    gc.freeze()
    worker.log.info(
        "worker %s: %d objects of the loaded app frozen", worker.pid, gc.get_freeze_count()
    )
