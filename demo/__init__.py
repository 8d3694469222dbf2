"""Synthetic data for demonstrations, tests and benchmarks: the city of 安和市 (city.py) and a year of its training, drills, results and certificates (activity.py)."""
