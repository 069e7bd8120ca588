"""SP Network Location Transfer (DERMS -> DACS): the message, and where the file goes.

The file is not transformed. Its destination follows ``dacs.file.target.transfer.pref``:

* ``ftp``: directory ``dacs.spNtwkLoc.ftp.input.directory`` on ``dacs.ftp.url``;
* ``os``: bucket ``dacs.spNtwkLoc.os.bucketname`` in namespace ``dacs.os.namespace``.

The remote file keeps the ``fileName`` of the message.
"""

from __future__ import annotations

from typing import Any

from hub.config import Config, ConfigError
from hub.transfers import Destination
from mappings.base import Id, InboundSchema
from mappings.common_transfers import FileName

__all__ = ["FLOW", "SpNetworkLocationSchema", "Destination", "destination"]

FLOW = "sp_network_location"


class SpNetworkLocationSchema(InboundSchema):
    """The ``message`` part: ``{"messageId", "fileName"}``."""

    messageId = Id(max=256)
    fileName = FileName()


def destination(config: Config, message: dict[str, Any]) -> Destination:
    """The destination of an SP Network Location file, from the transfer preference."""
    name = message["fileName"]
    if config["dacs.file.target.transfer.pref"] == "os":
        bucket = config.get("dacs.spNtwkLoc.os.bucketname")
        if not bucket:
            raise ConfigError({"dacs.spNtwkLoc.os.bucketname":
                               "needed when dacs.file.target.transfer.pref is os"})
        return Destination("os", name, bucket=bucket, namespace=config.get("dacs.os.namespace"))
    return Destination("ftp", name, directory=config.get("dacs.spNtwkLoc.ftp.input.directory")
                       or "")
