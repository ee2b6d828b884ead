"""Procuratorate offices (检察院) and the police units (公安机关) reports are transferred to.

Every staff user, unit, police unit and report belongs to one office; a single-county install has only the
default office the migrations create, and never sees the concept.
"""
