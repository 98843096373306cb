"""A simulated IgniteNet ecCloud public API (shared/seeds/003), for tests and the demo.

Stands alone (shares only the pure ``eccloud_config`` rules); no app imports it.
``python -m eccloud_sim --host H --port P --sites N --devices-per-site K --seed S``.
"""
