"""validated - rawapp wrapped in wsgiref.validate.validator (PEP 3333's own checker).

The validator asserts, on every request, that the server keeps its side of
PEP 3333: a real dict environ with str values, the required keys, a
wsgi.input with read(size)/readline/readlines/iteration, a start_response
that accepts exc_info, bytes-only write(), and close() called on the result.
Any breach raises AssertionError inside the server's worker, which shows in
its error log; the suite looks for it there.
"""
from wsgiref.validate import validator

from rawapp import application as raw_application

application = validator(raw_application)
