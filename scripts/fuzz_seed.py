#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/TARGET/) from the shared recordings.

Usage: scripts/fuzz_seed.py [DATA_DIR]   (default: $OBI_SHARED_DATA or ../shared/data)

Each seed is small (a few frames); the fuzzer grows its own corpus from them. The committed
corpora are what tests/fuzz_corpus.rs replays on stable.
"""
import json, os, struct, sys, zlib, hashlib

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
data = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OBI_SHARED_DATA", os.path.join(root, "..", "shared", "data"))
out = os.path.join(root, "fuzz", "corpus")

def put(target, blob):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(blob).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(blob)

def records(path, n):
    """The first n non-header records of a cryptofeed recording that carry data."""
    got = []
    with open(path, "rb") as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("t") in ("wssend", "wsrecv", "http", "connect", "disconnect", "recv", "send") or "data" in r:
                got.append((line, r))
            if len(got) >= n:
                break
    return got

venues = {
    "decode_bybit": "bybit_v5_cryptofeed_20260809.jsonl",
    "decode_binance": "binance_spot_cryptofeed_20211012.jsonl",
    "decode_bitflyer": "bitflyer_cryptofeed_20211212.jsonl",
    "decode_coincheck": None,
}
cryptofeed_lines = []
for target, fname in venues.items():
    if fname is None:
        continue
    recs = records(os.path.join(data, fname), 400)
    frames, rests = [], []
    for line, r in recs:
        d = r.get("data")
        if not isinstance(d, str) or len(d) > 4000:
            continue
        if r.get("t") == "http":
            rests.append(b">" + r.get("url", "").encode() + b" " + d.encode())
        else:
            frames.append(d.encode())
    for i in range(0, min(len(frames), 60), 6):
        for pick in (0, 1):
            put(target, bytes([pick]) + b"\n".join(rests[:1] + frames[i:i + 6] + [b"~"] + frames[i:i + 2]))
    cryptofeed_lines += [line for line, _ in recs[:40] if len(line) < 4000]

# Coincheck: the wire shapes of the venue's docs (public channels), as the decoder tests use.
cc = [
    b'[[\"1663318663\",\"btc_jpy\",\"2820896.0\",\"5.0\",\"sell\",\"2357062\",\"2357051\",\"1\",\"S\",\"1663318663\"]]',
    b'[\"btc_jpy\",{\"bids\":[[\"2820000.0\",\"0.5\"]],\"asks\":[[\"2821000.0\",\"0\"]],\"last_update_at\":\"1659321701\"}]',
    b'>https://coincheck.com/api/order_books?pair=btc_jpy {\"asks\":[[\"2821000\",\"0.3\"],[\"2822000\",\"1.1\"]],\"bids\":[[\"2820000\",\"0.2\"],[\"2819000\",\"2\"]]}',
]
put("decode_coincheck", b"\x00" + b"\n".join([cc[2], cc[1], cc[0], b"~", cc[1]]))
put("decode_coincheck", b"\x00" + b"\n".join([cc[1], cc[2], cc[1]]))

# GMO Coin: the shapes of the venue's docs and the probe (VENUES.md 1.4), as the decoder tests use.
gmo = [
    b'{"channel":"orderbooks","asks":[{"price":"13660704","size":"0.001"},{"price":"13660910","size":"0.012"}],"bids":[{"price":"13658802","size":"0.008"},{"price":"13658299","size":"0.03"}],"symbol":"BTC_JPY","timestamp":"2026-09-23T03:25:35.843Z","grouping":"1"}',
    b'{"channel":"orderbooks","asks":[{"price":"13660800","size":"0.5"}],"bids":[{"price":"13658802","size":"0.008"}],"symbol":"BTC_JPY","timestamp":"2026-09-23T03:25:36.348Z"}',
    b'{"channel":"trades","price":"13660704","side":"BUY","size":"0.004","timestamp":"2026-09-23T03:25:36.400Z","symbol":"BTC_JPY"}',
    b'{"channel":"orderbooks","asks":[{"price":"455659","size":"0.1"}],"bids":[{"price":"455650","size":"0.3"}],"symbol":"BTC","timestamp":"2018-03-30T12:34:56.789Z"}',
    b'{"channel":"trades","price":"750760","side":"SELL","size":"0.1","timestamp":"2018-03-30T12:34:56.789Z","symbol":"BTC"}',
    b'>https://api.coin.z.com/public/v1/orderbooks?symbol=BTC {"status":0,"data":{"asks":[{"price":"455659","size":"0.1"}],"bids":[{"price":"455650","size":"0.2"}],"symbol":"BTC"},"responsetime":"2019-03-19T02:15:06.026Z"}',
    b'{"error":"ERR-5106 Invalid request parameter. symbol"}',
]
put("decode_gmocoin", b"\x01" + b"\n".join([gmo[0], gmo[2], gmo[1], b"~", gmo[0], gmo[6]]))
put("decode_gmocoin", b"\x00" + b"\n".join([gmo[5], gmo[3], gmo[4], gmo[3]]))

# bitbank: the Engine.IO/Socket.IO frames and room messages of the docs (VENUES.md 1.5).
bb = [
    b'0{"sid":"9-zd3P1G-BNu_w37ABMX","upgrades":[],"pingInterval":25000,"pingTimeout":60000}',
    b'40{"sid":"lUkRb31kqoS9cLPNMc0W"}',
    b'42["message",{"room_name":"depth_diff_btc_jpy","message":{"data":{"a":[["13642554","0"],["13641185","0.0006"]],"b":[["13634294","0"]],"t":1790127295169,"s":"34423855352","ao":"65.7738","bu":"4711.7088"}}}]',
    b'42["message",{"room_name":"depth_whole_btc_jpy","message":{"data":{"asks":[["13641186","1"]],"bids":[["13634295","0.25"]],"asks_over":"0.123","bids_under":"0.123","asks_under":"0","bids_over":"0","ask_market":"0","bid_market":"0","timestamp":1790127290000,"sequenceId":"34423855350"}}}]',
    b'42["message",{"room_name":"depth_diff_btc_jpy","message":{"data":{"a":[],"b":[["13634296","1"]],"t":1790127295500,"s":"34423855401"}}}]',
    b'42["message",{"room_name":"transactions_btc_jpy","message":{"data":{"transactions":[{"side":"buy","executed_at":1568360906000,"amount":"0.0001","price":"1094101","transaction_id":74039226}]}}}]',
    b'2',
    b'>https://public.bitbank.cc/btc_jpy/depth {"success":1,"data":{"asks":[["13641186","1"]],"bids":[["13634295","0.25"]],"timestamp":1790127290000,"sequenceId":"34423855360"}}',
]
put("decode_bitbank", b"\x00" + b"\n".join([bb[0], bb[1], bb[2], bb[3], bb[4], bb[6], bb[5], b"~", bb[2], bb[3]]))
put("decode_bitbank", b"\x00" + b"\n".join([bb[2], bb[7], bb[4], bb[3]]))

# Binance USD-M futures: the futures docs' shapes (`pu`, `T`), combined-stream wrapped.
um = [
    b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1786310816516,"T":1786310816512,"s":"BTCUSDT","U":1027020,"u":1027030,"pu":1027010,"b":[["65000.00","5.000"]],"a":[["65000.10","0"]]}}',
    b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1786310816616,"T":1786310816612,"s":"BTCUSDT","U":1027033,"u":1027040,"pu":1027030,"b":[],"a":[["65000.20","1.250"]]}}',
    b'>https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000 {"lastUpdateId":1027024,"E":1589436922972,"T":1589436922959,"bids":[["65000.00","4.000"]],"asks":[["65000.10","12.000"]]}',
    b'{"lastUpdateId":1027035,"E":1589436922972,"T":1589436922959,"bids":[["65000.00","4.000"]],"asks":[["65000.10","12.000"]]}',
    b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1786310816516,"a":5933014,"s":"BTCUSDT","p":"65000.10","q":"0.010","f":100,"l":105,"T":1786310816512,"m":true}}',
]
put("decode_binance_usdm", b"\x00" + b"\n".join([um[0], um[1], um[2], um[4], b"~", um[0], um[3], um[1]]))
put("decode_binance_usdm", b"\x00" + b"\n".join([um[1], um[0], um[2]]))

for i in range(0, len(cryptofeed_lines), 8):
    put("record_cryptofeed", b"".join(cryptofeed_lines[i:i + 8]))

# Plain lines: `<ns> <frame>`.
for i in range(0, 40, 8):
    lines = []
    for line in cryptofeed_lines[i:i + 8]:
        r = json.loads(line)
        if isinstance(r.get("data"), str) and "ts" in r:
            lines.append(b"%d %s\n" % (int(r["ts"] * 1e9), r["data"].encode()))
    if lines:
        put("record_plain", b"".join(lines))

# obirec: a header and a few records (see src/record/obirec.rs).
def obirec(frames):
    meta = json.dumps({"venue": "bybit", "market": "linear", "symbols": ["BTCUSDT"],
                       "addr": "wss://stream.bybit.com/v5/public/linear", "created_ns": 1,
                       "seq": 0, "recorder": "fuzz_seed"}).encode()
    head = b"OBIREC" + struct.pack("<HI", 1, len(meta)) + meta
    blob = head + struct.pack("<I", zlib.crc32(head))
    conn = b"c1"
    for i, (kind, addr, payload) in enumerate(frames):
        body = struct.pack("<BBHHQ", kind, 1 if addr else 0, len(conn), len(addr), 1_700_000_000_000_000_000 + i) + conn + addr + payload
        rec = struct.pack("<I", len(body)) + body
        blob += rec + struct.pack("<I", zlib.crc32(rec))
    return blob

bybit = [json.loads(l)["data"].encode() for l in cryptofeed_lines if isinstance(json.loads(l).get("data"), str)]
put("record_obirec", obirec([(2, b"wss://stream.bybit.com/v5/public/linear", b"")] + [(4, b"", f) for f in bybit[:4]] + [(5, b"", b"")]))
put("record_obirec", obirec([(1, b"https://api.bybit.com/v5/market/orderbook", bybit[0] if bybit else b"{}")]))

for req in [
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /health/detailed HTTP/1.1\r\n\r\n",
    b"GET /metrics?x=1 HTTP/1.0\r\n\r\n",
    b"POST /kill HTTP/1.1\r\nAuthorization: Bearer fuzz-kill-token-32-bytes-at-least-0001\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /kill HTTP/1.1\r\nAuthorization: Bearer wrong\r\n\r\n",
    b"DELETE /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
]:
    put("http_request", req)

for name in sorted(os.listdir(os.path.join(root, "config"))):
    if name.endswith(".toml"):
        with open(os.path.join(root, "config", name), "rb") as f:
            put("config_toml", f.read())
