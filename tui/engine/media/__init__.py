"""Videos: downloading safely, naming, checking, previewing, playing, and the provenance a
saved file carries.
"""
