"""A process taking tokens from a rate budget (spawned by test_api; imports Django only after setup)."""
import os
import time


def take_tokens(count: int, queue, redis_url: str, key: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings_test"
    os.environ["REDIS_URL"] = redis_url
    os.environ["PORTAL_TEST_REDIS_FIXED"] = "1"
    import django

    django.setup()
    from ncm_sync.ratebudget import RateBudget

    budget = RateBudget(key=key, limit=15, window=3)
    for _ in range(count):
        budget.acquire()
        queue.put(time.time())
