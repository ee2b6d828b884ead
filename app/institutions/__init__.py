"""Institutions that send reports from their own systems (hospital information systems, hotline work orders)."""
