"""The web app over index folders (``facevoice app``): upload or record a voice → the top faces; upload a
face → the top voices with audio players. A layer between the CLI and the pipelines: it reads indexes
through :class:`facevoice.search.Searcher` and never serves a file that is not an item of an index.
Gradio is imported inside the functions (the ``[app]`` extra)."""

from facevoice.app.server import LOOPBACK_HOSTS, build_app, host_warning, launch_app
from facevoice.app.uploads import UploadLimits, check_upload

__all__ = ["LOOPBACK_HOSTS", "UploadLimits", "build_app", "check_upload", "host_warning", "launch_app"]
