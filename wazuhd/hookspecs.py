"""The contract between the wazuhd host and its plugins.

Every plugin, built-in or installed with pip, implements some of these hooks
with ``@wazuhd.hookimpl`` and is found through the entry-point group
``wazuhd``. Hooks are grouped by phase, in the order the host calls them.

Rules that hold for every hook:

* Registration hooks are synchronous and return plain data (dataclasses from
  ``wazuhd.config``, ``wazuhd.store``, ``wazuhd.sockets``, ``wazuhd.cli``,
  ``wazuhd.daemon``). The host owns the registries and refuses duplicates.
* Runtime work is never an async hook (pluggy cannot await): it is handed to
  the host as :class:`wazuhd.daemon.Service` objects, which the host starts in
  its nursery.
* The host calls each implementation on its own. When one raises, the plugin
  that owns it is reported by name (log, ``wazuhd plugins``, ``wazuhd status``)
  and unregistered; the daemon goes on without it unless the config lists it
  in ``plugins.required``. Hook wrappers are therefore not supported.
* Any hook may return ``None`` (or an empty list) to contribute nothing.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("wazuhd")


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------


@hookspec
def wazuhd_config_schema():
    """Declare the plugin's sections of ``etc/wazuhd.yaml``.

    Called once, before the configuration file is read, by the daemon and by
    every CLI command that loads the config.

    :return: a :class:`wazuhd.config.ConfigSection` or a list of them. Each
        holds a JSON Schema whose ``default`` keywords give the defaults;
        objects reject unknown keys unless they say otherwise. Section names
        are unique across plugins.

    Not firstresult: every plugin's sections are collected.
    """


# --------------------------------------------------------------------------
# Storage
# --------------------------------------------------------------------------


@hookspec
def wazuhd_db_migrations():
    """Contribute schema migrations for the embedded SQLite store.

    Called once at start, after the configuration is valid and before
    :func:`wazuhd_startup`. The host applies, in list order, every migration
    whose id it has not yet recorded in that database file, each in its own
    transaction, so a migration runs exactly once per home.

    :return: a list of :class:`wazuhd.store.Migration`.

    Not firstresult.
    """


# --------------------------------------------------------------------------
# Lifecycle
# --------------------------------------------------------------------------


@hookspec
def wazuhd_startup(ctx):
    """Prepare the plugin's state before any service runs.

    Called once per daemon start, after config validation and migrations,
    inside the trio run but before the services start. Keep it short: long or
    blocking work belongs in a service.

    :param ctx: the :class:`wazuhd.daemon.Context` (home, config, store, ...).
    :return: ignored.

    Not firstresult.
    """


@hookspec
def wazuhd_services(ctx):
    """Contribute long-running tasks owned by the daemon's nursery.

    Called once, after :func:`wazuhd_startup`. The host starts each service
    with ``nursery.start`` (so a service calls ``task_status.started()`` when
    it is ready), logs and records a service that crashes, and cancels all of
    them on shutdown with a deadline.

    :param ctx: the :class:`wazuhd.daemon.Context`.
    :return: a list of :class:`wazuhd.daemon.Service`.

    Not firstresult.
    """


@hookspec
def wazuhd_shutdown(ctx):
    """Release what :func:`wazuhd_startup` acquired.

    Called once on the way out, after every service has stopped and before
    the store is closed; also called when the start fails half-way, for the
    plugins whose startup ran.

    :param ctx: the :class:`wazuhd.daemon.Context`.
    :return: ignored.

    Not firstresult.
    """


# --------------------------------------------------------------------------
# Sockets
# --------------------------------------------------------------------------


@hookspec
def wazuhd_socket_commands():
    """Contribute commands to the framed Unix sockets under ``queue/sockets/``.

    Called once at start. Commands are grouped by socket name: the host opens
    one socket per name and dispatches each request's ``command`` to its
    handler. Two plugins may share a socket but not a command on it.

    :return: a list of :class:`wazuhd.sockets.SocketCommand`.

    Not firstresult.
    """


# --------------------------------------------------------------------------
# HTTP API
# --------------------------------------------------------------------------


@hookspec
def wazuhd_api_routes():
    """Contribute HTTP operations to the REST API.

    Called once when the HTTP host builds its application. Each route must
    match an operation (same method and path) of the assembled OpenAPI spec,
    and each operation must have a route; the host refuses duplicates. The
    host validates parameters and bodies against the spec, authenticates the
    caller and renders the result (an ``AffectedItemsResult``, a dict or a
    :class:`wazuhd.routes.ApiResponse`).

    :return: a list of :class:`wazuhd.routes.Route`.

    Not firstresult.
    """


@hookspec
def wazuhd_openapi():
    """Contribute the plugin's part of the OpenAPI spec.

    Called once when the HTTP host assembles the spec (served at
    ``GET /api/spec.yaml``). A fragment is an OpenAPI 3.0 document with
    ``paths`` and optionally ``components``; it may ``$ref`` the host's
    shared components (``#/components/parameters/limit``, ...). A path and
    method, or a component name, may be defined by one plugin only.

    :return: a dict (the parsed fragment), or None.

    Not firstresult.
    """


@hookspec
def wazuhd_rbac_actions():
    """Declare the RBAC actions and resource types the plugin guards.

    Called once at start; ``GET /security/actions`` and
    ``GET /security/resources`` list what all plugins declare, and roles may
    only name declared actions.

    :return: a list of :class:`wazuhd.rbac.RbacAction` and
        :class:`wazuhd.rbac.RbacResource`.

    Not firstresult.
    """


# --------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------


@hookspec(firstresult=True)
def wazuhd_event_consumer(ctx):
    """Choose who consumes the event channel that every input feeds.

    Called once at start. The host's built-in default (``trylast``) counts
    and logs events; the analysis plugin overrides it.

    :param ctx: the :class:`wazuhd.daemon.Context`.
    :return: an async callable ``consume(receive_channel, task_status)`` that
        reads :class:`wazuhd.events.Event` objects until the channel closes.

    firstresult: the first non-None result is used.
    """


@hookspec
def wazuhd_alert(alert):
    """See every alert the analysis engine raises, as it is raised.

    Called once per alert (rule level above 0), in the daemon's trio thread,
    before the alert is written to ``alerts.json``: enrichers change the dict
    in place (mark them ``tryfirst=True``), sinks copy what they need. Keep it
    fast and non-blocking; hand slow work to a service through a channel.

    :param alert: the alert, a dict in Wazuh's alert schema.
    :return: ignored.

    Not firstresult.
    """


@hookspec
def wazuhd_ruleset():
    """Contribute the plugin's own starter decoders, rules and CDB lists.

    Called by the analysis plugin each time it builds its ruleset (start,
    reload, ``PUT /rules/files`` and friends), when
    ``analysis.ruleset.builtin`` is on.

    :return: a directory (``str`` or ``pathlib.Path``) holding any of
        ``decoders/``, ``rules/`` and ``lists/``. Their files load after the
        configured directories and the analysis plugin's own starter files,
        so a loaded Wazuh ruleset decodes and matches first. Rule ids must
        not collide with anyone else's: built-in plugins take blocks of 1000
        in 190000-199999 (the host's README lists them).

    Not firstresult: every plugin's directory is loaded, in plugin order.
    """


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


@hookspec
def wazuhd_cli_commands():
    """Contribute ``wazuhd`` subcommands.

    Called each time the ``wazuhd`` command starts, before arguments are
    parsed; no daemon needs to be running.

    :return: a list of :class:`wazuhd.cli.CliCommand`. Names are unique
        across plugins and the host's own commands.

    Not firstresult.
    """
