"""The deliver stage: a run's archive into an SFCC instance (../shared/reference/sfcc-delivery.md).

`parts` splits the archive into ordered site-import zips under the instance's upload limit;
`auth` holds the connection and the Account Manager token; `webdav` moves files; `jobs` starts
the site import (SCAPI or OCAPI) and waits for it; `importlog` reads what SFCC says it imported;
`delivery` composes them under a lock, with a receipt per imported part.
"""
