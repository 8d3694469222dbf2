"""Importers turn spreadsheets people really keep into validated rows, then records."""
