"""The network the workshop page shows: every office node's URL, and this node's own flags.

The list comes from the file ``IPCHAIN_NETWORK_FILE`` names (``ipchain network up`` writes it:
``{"nodes": [{"office": "EM", "url": "http://127.0.0.1:8101", ...}, ...]}``), read on each
request so a node started before the file was complete still sees every node. Without it the
network is this node alone.

The page reads each node's public API **from the browser, straight from that node** (the app
allows cross-origin reads from loopback pages and from the nodes the file names: see
:func:`api.app.allowed_origins`), rather than through this node as a proxy: the point of the
view is that each node answers for itself, so a node that lies, or is down, shows as such
instead of through a node that could rewrite its answers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Request

from api.deps import Service
from api.schemas_workshop import Network, NetworkNode
from ipchain.register.catalog import find_office

router = APIRouter(tags=["workshop"])

NETWORK_FILE_VARIABLE: Final = "IPCHAIN_NETWORK_FILE"
"""Environment variable naming the network file."""


def network_nodes() -> tuple[list[NetworkNode], str] | None:
    """The nodes the network file lists and its path; None without a readable file."""
    name = os.environ.get(NETWORK_FILE_VARIABLE)
    if not name:
        return None
    path = Path(name)
    try:
        content: Any = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    nodes = []
    for item in content.get("nodes", []) if isinstance(content, dict) else []:
        if not isinstance(item, dict):
            continue
        office, url = item.get("office"), item.get("url")
        if isinstance(office, str) and isinstance(url, str) and url.startswith("http"):
            name = item.get("name")
            nodes.append(
                NetworkNode(
                    office=office,
                    name=name if isinstance(name, str) else _office_name(office),
                    url=url.rstrip("/"),
                )
            )
    return (nodes, str(path)) if nodes else None


def _office_name(code: str) -> str | None:
    info = find_office(code)
    return None if info is None else info.name


@router.get("/network", response_model=Network, summary="The network's nodes")
def network(request: Request, service: Service) -> Network:
    """Every office node of the network (from the file ``IPCHAIN_NETWORK_FILE`` names, when
    the node runs in one), whether this node runs in demo mode, and the offices it writes
    for."""
    offices = sorted(service.submissions.offices)
    listed = network_nodes()
    if listed is None:
        here = str(request.base_url).rstrip("/")
        office = "EM" if "EM" in offices else (offices[0] if offices else "--")
        nodes = [NetworkNode(office=office, name=_office_name(office), url=here)]
        source = "this node"
    else:
        nodes, source = listed
    return Network(
        nodes=nodes,
        source=source,
        demo=bool(getattr(request.app.state, "demo", False)),
        signing_offices=offices,
    )
