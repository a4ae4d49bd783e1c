"""Rekognition Custom Labels: train a model from a ledger, start it, stop it, guard its cost.

Nothing is imported here: the modules that call AWS import the AWS stack, which the CLI and
``import asyncfilter`` only load when a command needs it. Public names are re-exported from
:mod:`asyncfilter`.
"""
