"""Delta Sharing: published batch snapshots served over the open protocol.

`files` writes each snapshot version's files per tenant view (region, day, sample);
`profile` builds the profile file a buyer's client reads. The protocol's routes are in
`api.routes.sharing`.
"""

from tollgate.sharing.files import SharedFile, SharedSnapshots, SharedView, view_name
from tollgate.sharing.profile import SHARING_PREFIX, sharing_endpoint, sharing_profile

__all__ = [
    "SHARING_PREFIX",
    "SharedFile",
    "SharedSnapshots",
    "SharedView",
    "sharing_endpoint",
    "sharing_profile",
    "view_name",
]
