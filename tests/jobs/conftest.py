from tests.ncm_sync.conftest import _fast_retries, sims  # noqa: F401  (simulator fixtures shared with sync tests)
