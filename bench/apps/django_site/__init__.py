"""A minimal Django project for `make bench`: one view rendering one template.

Serve it as `django_site.wsgi:application` with bench/apps as the working
directory.  No database, no installed apps: the stateless half of the
middleware `django-admin startproject` writes, URL routing, a view and the
template engine.
"""
