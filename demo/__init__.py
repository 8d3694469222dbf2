"""Synthetic data: the city of 安和市 and a year of its activity, for the demo, tests and
benchmarks.

city.py makes the people and their roster; activity.py their trainings, drills, results,
certificates and moves.
"""
