"""Jinja2 prompt templates, one file per task and language (``<task>.<lang>.j2``), shipped as
package data and rendered by :func:`rag.compose.render`."""
