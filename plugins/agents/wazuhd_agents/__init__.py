"""wazuhd's agent registry: agents (000 is the manager), keys and ``etc/client.keys``,
groups and their shared files, queued agent tasks, and the Wazuh 4.x API over them.

Layout: :mod:`.db` (tables, indexes, the queryable fields), :mod:`.registry` (agents),
:mod:`.keys` (keys and client.keys), :mod:`.groups`, :mod:`.tasks` - API-agnostic async
operations taking an explicit ``rbac`` context and returning AffectedItemsResult - then
:mod:`.api` (thin HTTP routes), :mod:`.cli` and :mod:`.plugin` (hookimpls only).
"""
