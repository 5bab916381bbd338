"""Redaction: removing secrets and personal data from text we keep or export."""
