"""Synthetic data: the city of 安和市 and a year of its activity, for the demo, tests and
benchmarks.

city.py makes the people and their roster; activity.py their year (trainings with sign-ins,
drills), with moves.py (post changes), results.py (module results, certificates) and rows.py
(what the generators share).
"""
