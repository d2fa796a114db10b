"""Moodle's ``address_in_subnet()``: the IP-restriction syntax admins type into tokens and services.

A comma-separated list whose entries are CIDR blocks (``10.0.0.0/8``, ``2001:db8::/32``), a range in
the last group (``192.168.1.10-20``, ``2001:db8::1-ff``) or a prefix (``192.168``, ``192.168.``,
``2001:db8``). Unparseable entries are skipped, as in Moodle.
"""

import ipaddress


def _address(text):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _in_cidr(address, entry):
    network_text, _, mask = entry.partition("/")
    mask = mask.strip()
    network_address = _address(network_text)
    if not mask.isdigit() or network_address is None or network_address.version != address.version:
        return False
    if int(mask) > network_address.max_prefixlen:
        return False
    network = ipaddress.ip_network(f"{network_address}/{mask}", strict=False)
    return address in network


def _in_range(address, entry):
    start_text, _, end_text = entry.partition("-")
    start = _address(start_text)
    if start is None or start.version != address.version or "-" in end_text:
        return False
    separator = "." if start.version == 4 else ":"
    groups = start.exploded.split(separator)
    groups[-1] = end_text.strip()
    end = _address(separator.join(groups))
    return end is not None and start <= address <= end


def _in_prefix(address, entry):
    separator, group_bits, groups_total = (":", 16, 8) if ":" in entry else (".", 8, 4)
    if (separator == ":") != (address.version == 6):
        return False
    parts = entry.rstrip(separator).split(separator) if entry.endswith(separator) else entry.split(separator)
    exact = _address(separator.join(parts))
    if exact is not None and len(parts) == groups_total:
        return exact == address
    if len(parts) >= groups_total:
        return False
    padded = separator.join(parts + ["0"] * (groups_total - len(parts)))
    return _in_cidr(address, f"{padded}/{len(parts) * group_bits}")


def address_in_subnet(address_text, subnets):
    """True when ``address_text`` matches one entry of the comma-separated ``subnets``."""
    address = _address(address_text or "")
    if address is None or str(address) == "0.0.0.0":  # noqa: S104 - Moodle never matches 0.0.0.0
        return False
    for entry in (subnets or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        if "/" in entry:
            matched = _in_cidr(address, entry)
        elif "-" in entry:
            matched = _in_range(address, entry)
        else:
            matched = _in_prefix(address, entry)
        if matched:
            return True
    return False
