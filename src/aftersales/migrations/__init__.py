"""The Alembic environment, shipped inside the package.

Nothing here is imported by the application: :mod:`aftersales.adapters.db.migrate`
points Alembic at this directory (``env.py``, ``script.py.mako``, ``versions/``)
so migrations run from an installed wheel without an ``alembic.ini``.
"""
