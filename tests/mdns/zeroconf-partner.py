# An independent mDNS implementation (Debian's python3-zeroconf) as the other side of the interop tests.
# Runs INSIDE the private network namespace the test made; never on the real network. Each command prints
# JSON lines on stdout; a long-running one ("register") runs until its stdin closes.
#
#   browse SECONDS ADDRESS            every _salita._tcp instance resolved within SECONDS, as one JSON line
#   register NAME PORT MODE ADDRESS   MODE "probe": probe first (rename on conflict); "force": announce the
#                                     name without probing, as a host that claims a name someone else holds
#   legacy NAME ADDRESS               a plain DNS query from a random port; what came back to that port
#   records NAME ADDRESS              a multicast query for NAME's SRV/TXT; each answer's cache-flush bit
#   known PTRNAME INSTANCE ADDRESS    a PTR query with and without the known answer; whether each got one
#   ipv6 IFACE NAME                   a query for NAME's SRV to ff02::fb on IFACE; whether an answer came back
import json
import socket
import struct
import sys
import time

from zeroconf import (DNSIncoming, DNSOutgoing, DNSPointer, DNSQuestion, ServiceBrowser, ServiceInfo,
                      ServiceStateChange, Zeroconf, const)

SERVICE = "_salita._tcp.local."
GROUP4 = "224.0.0.251"
GROUP6 = "ff02::fb"
TYPE_NAMES = {const._TYPE_A: "A", const._TYPE_AAAA: "AAAA", const._TYPE_PTR: "PTR", const._TYPE_SRV: "SRV",
              const._TYPE_TXT: "TXT", const._TYPE_NSEC: "NSEC"}


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def decode_txt(props):
    return {k.decode(): (v.decode() if isinstance(v, bytes) else v) for k, v in (props or {}).items()}


def browse(seconds, address):
    zc = Zeroconf(interfaces=[address])
    names = set()

    def on_change(zeroconf, service_type, name, state_change):
        if state_change is ServiceStateChange.Added:
            names.add(name)

    ServiceBrowser(zc, SERVICE, handlers=[on_change])
    time.sleep(seconds)
    found = []
    for name in sorted(names):
        info = zc.get_service_info(SERVICE, name, timeout=3000)
        if info is None:
            found.append({"name": name, "resolved": False})
            continue
        found.append({"name": name, "resolved": True, "txt": decode_txt(info.properties), "port": info.port,
                      "server": info.server, "addresses": info.parsed_addresses()})
    emit({"found": found})
    zc.close()


def register(name, port, mode, address):
    zc = Zeroconf(interfaces=[address])
    info = ServiceInfo(SERVICE, f"{name}.{SERVICE}", port=port, properties={"partner": "zeroconf"},
                       server="zeroconf-partner.local.", addresses=[socket.inet_aton(address)])
    if mode == "force":
        zc.register_service(info, cooperating_responders=True)
    else:
        zc.register_service(info, allow_name_change=True)
    emit({"registered": info.name[: -len(SERVICE) - 1]})
    sys.stdin.read()
    zc.unregister_service(info)
    zc.close()


def query_packet(questions, multicast=True, known=()):
    out = DNSOutgoing(const._FLAGS_QR_QUERY, multicast=multicast, id_=0 if multicast else 0x5A17)
    for name, type_ in questions:
        out.add_question(DNSQuestion(name, type_, const._CLASS_IN))
    for record in known:
        out.add_answer_at_time(record, 0)
    return out.packets()[0]


def records_of(data):
    msg = DNSIncoming(data)
    return msg, [{"name": r.name, "type": TYPE_NAMES.get(r.type, r.type), "cache_flush": bool(r.unique),
                  "ttl": r.ttl} for r in msg.answers]


def listen_socket(address):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("", 5353))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(GROUP4) + socket.inet_aton(address))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    return s


def collect(sock, seconds, wanted):
    """Responses (not queries) received within `seconds` that carry a record named `wanted`."""
    got = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        sock.settimeout(max(0.05, deadline - time.time()))
        try:
            data, src = sock.recvfrom(9000)
        except socket.timeout:
            break
        msg, recs = records_of(data)
        if not msg.is_response():
            continue
        if any(r["name"].lower() == wanted.lower() for r in recs):
            got.append({"from": list(src[:2]), "id": msg.id, "records": recs})
    return got


def wait_quiet(sock, name):
    """Waits for two silent seconds in a row (bounded): the node's own announcements may still be going out,
    and a check that counts answers must only hear answers to its own query."""
    heard_total = 0
    for _ in range(10):
        heard = collect(sock, 2, name)
        if not heard:
            return heard_total, False
        heard_total += len(heard)
    return heard_total, True


def legacy(name, address):
    # Not port 5353: RFC 6762 §6.7 says a responder answers such a query by unicast to the querier's port.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((address, 0))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
    s.sendto(query_packet([(name, const._TYPE_SRV)], multicast=False), (GROUP4, 5353))
    got = collect(s, 5, name)
    emit({"source_port": s.getsockname()[1], "query_id": 0x5A17, "answers": got})


def records(name, address):
    s = listen_socket(address)
    quiet, still_noisy = wait_quiet(s, name)
    s.sendto(query_packet([(name, const._TYPE_SRV), (name, const._TYPE_TXT)]), (GROUP4, 5353))
    emit({"still_noisy": still_noisy, "answers": collect(s, 4, name)})


def known(ptr_name, instance, address):
    s = listen_socket(address)
    quiet, still_noisy = wait_quiet(s, ptr_name)
    # The answer we claim to know, with a TTL above half the true one (RFC 6762 §7.1).
    record = DNSPointer(ptr_name, const._TYPE_PTR, const._CLASS_IN, 4500, instance)
    s.sendto(query_packet([(ptr_name, const._TYPE_PTR)], known=[record]), (GROUP4, 5353))
    with_known = collect(s, 4, ptr_name)
    time.sleep(1.5)
    s.sendto(query_packet([(ptr_name, const._TYPE_PTR)]), (GROUP4, 5353))
    without_known = collect(s, 4, ptr_name)
    emit({"quiet": quiet, "still_noisy": still_noisy, "with_known": with_known, "without_known": without_known})


def ipv6(iface, name):
    index = socket.if_nametoindex(iface)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(("::", 5353))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, socket.inet_pton(socket.AF_INET6, GROUP6) + struct.pack("@I", index))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    quiet, still_noisy = wait_quiet(s, name)
    s.sendto(query_packet([(name, const._TYPE_SRV)]), (GROUP6, 5353, 0, index))
    emit({"quiet": quiet, "still_noisy": still_noisy, "answers": collect(s, 5, name)})


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "browse":
        browse(float(args[0]), args[1])
    elif cmd == "register":
        register(args[0], int(args[1]), args[2], args[3])
    elif cmd == "legacy":
        legacy(args[0], args[1])
    elif cmd == "records":
        records(args[0], args[1])
    elif cmd == "known":
        known(args[0], args[1], args[2])
    elif cmd == "ipv6":
        ipv6(args[0], args[1])
    else:
        raise SystemExit(f"unknown command {cmd}")


main()
