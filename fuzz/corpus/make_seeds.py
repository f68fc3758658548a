#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (docs/fuzzing.md).

Run from anywhere: python3 fuzz/corpus/make_seeds.py. The seeds are committed;
this file says where each comes from. Binary seeds follow fuzz/input.hpp
(u8, big-endian u16 as on the Modbus wire, big-endian f64).

  devices/  real replies of the reference drive and load cell (ICD register
            maps of config/reference-*.toml and config/sim-vendor-b.toml)
  codec/    real signals of those maps with the words a device sends
  config/   the shipped config/*.toml
  api/      the requests of docs/api.md, in the target's request format
Regression inputs (files named regression-*) are added by hand, never
rewritten here.
"""
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def u8(*v):
    return bytes(v)


def u16(*v):
    return b"".join(struct.pack(">H", x & 0xFFFF) for x in v)


def f64(x):
    return struct.pack(">d", x)


def f32_words(x, low_first):
    (bits,) = struct.unpack(">I", struct.pack(">f", x))
    hi, lo = bits >> 16, bits & 0xFFFF
    return (lo, hi) if low_first else (hi, lo)


def s32_words(x, low_first):
    bits = x & 0xFFFFFFFF
    hi, lo = bits >> 16, bits & 0xFFFF
    return (lo, hi) if low_first else (hi, lo)


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


OK = u8(0)  # a transaction's outcome byte: < 240 is Ok

# ---------------------------------------------------------------- devices
# Config index: 0 reference-rtu, 1 reference-tcp, 2 sim, 3 sim-vendor-b.
# Signs byte 0x0F: torque positive down, position and speed positive up, compression positive.
# Ops: 0/1 exchange (flags, [f64 force]), 2 read_status, 3 load-cell read, 4 configure, 5 set_filter.
ENABLE_500N = u8(0, 0x81) + f64(500.0)       # enable, force 500 N
FAULT_RESET = u8(0, 0x02)                     # fault_reset, no force (NaN, not used)
DISABLED = u8(0, 0x40)                        # all off (force +inf, not used)
QUICK_STOP = u8(0, 0x85) + f64(1800.0)        # enable + quick stop at 1800 N

# Reference map: one FC 23 writes CONTROL+TORQUE_CMD and reads the mirror
# (holding 100..107 = input 0..7): status, fault, position s32 (counts),
# speed s16 (rpm), torque s16 (0.1 %), temperature s16 (0.1 °C), bus u16 (0.1 V).
def ref_status(status=0x0003, fault=0, counts=45000, rpm=120, torque=278, temp=352, volts=480):
    return u16(status, fault, *s32_words(counts, False), rpm, torque, temp, volts)

ref_cell = OK + u16(*s32_words(5123, False), 0x0001, 0x1234)  # 512.3 N, stable, counter
ref_configure = u8(4) + OK + OK + u16(0, 0, 0, 0)  # one FC 16 of holding 2..5, read back as written

write("devices", "reference-rtu-cycle", u8(0, 0x0F)
      + ref_configure
      + ENABLE_500N + OK + ref_status()
      + u8(3) + ref_cell
      + ENABLE_500N + OK + ref_status(counts=47500, rpm=-90, torque=301)
      + u8(3) + OK + u16(*s32_words(-83, False), 0x0001, 0x1235)
      + u8(2) + OK + ref_status(status=0x0001, rpm=0, torque=0))
write("devices", "reference-rtu-fault-reset", u8(0, 0x0F)
      + DISABLED + OK + ref_status(status=0x0005, fault=6, rpm=0, torque=0)  # ready + fault: comm loss
      + FAULT_RESET + OK + ref_status(status=0x0005, fault=6, rpm=0, torque=0)
      + FAULT_RESET + OK + ref_status(status=0x0005, fault=6, rpm=0, torque=0)
      + FAULT_RESET + OK + ref_status(status=0x0001, rpm=0, torque=0)
      + u8(5) + u16(3) + u8(0) + OK)  # filter level 3
write("devices", "reference-tcp-sto-quickstop", u8(1, 0x0F)
      + QUICK_STOP + OK + ref_status(status=0x0009, rpm=0, torque=0)  # ready + STO
      + u8(3) + OK + u16(*s32_words(18000, False), 0x0003, 0xFFFF))  # 1800 N, stable + overload
write("devices", "sim-limited", u8(2, 0x0F)
      + ref_configure
      + ENABLE_500N + OK + ref_status(status=0x0033, rpm=600, torque=1000))  # speed + torque limited

# Vendor B: no mirror; CONTROL (holding 10) and TORQUE_CMD (12..13, s32 low
# first, 0.01 %) are not contiguous: FC 06 + FC 16, then one batched read of
# input 200..207: status, fault, position s32 low first (0.01 mm), speed s16
# (0.1 rpm), torque s16 (0.01 %), temperature s16 (0.1 °C), bus u16 (0.1 V).
def vb_status(status=0x0003, fault=0, counts=4500, rpm10=1200, torque=2780, temp=352, volts=480):
    return OK + u16(status, fault, *s32_words(counts, True), rpm10, torque, temp, volts)

vb_cell = OK + u16(*f32_words(512.3, True), 0x0001, 0x0042)  # force f32 low first at input 20
write("devices", "vendor-b-cycle", u8(3, 0x0F)
      + u8(4) + OK + OK + u16(0, 0, 0, 0)  # holding 14..17 in one FC 16, read back
      + ENABLE_500N + OK + OK + vb_status()
      + u8(3) + vb_cell
      + u8(2) + vb_status(counts=-12, rpm10=-35, torque=-150))

# ---------------------------------------------------------------- codec
# type (0 u16, 1 s16, 2 u32, 3 s32, 4 f32), order (0 high first, 1 low first),
# scale index (0 1.0, 1 0.1, 2 0.01), offset index (0 0.0, 3 -273.15),
# word, word, value kind 0 + f64 value.
def codec(name, typ, order, scale, offset, words, value):
    write("codec", name, u8(typ, order, scale, offset) + u16(*words) + u8(0) + f64(value))

codec("position-s32", 3, 0, 0, 0, s32_words(45000, False), 45000)
codec("force-s32-0.1", 3, 0, 1, 0, s32_words(5123, False), 512.3)
codec("torque-s16-0.1", 1, 0, 1, 0, (278, 0), 27.8)
codec("torque-cmd-s32-lowfirst-0.01", 3, 1, 2, 0, s32_words(-2780, True), -27.8)
codec("force-f32-lowfirst", 4, 1, 0, 0, f32_words(512.3, True), 512.3)
codec("bus-u16-0.1", 0, 0, 1, 0, (480, 0), 48.0)
codec("counter-u32", 2, 0, 0, 0, (1, 0), 65536)
codec("temperature-kelvin", 0, 0, 2, 3, (30835, 0), 35.2)

# ---------------------------------------------------------------- config
for name in sorted(os.listdir(os.path.join(ROOT, "config"))):
    if name.endswith(".toml"):
        shutil.copyfile(os.path.join(ROOT, "config", name), os.path.join(HERE, "config", name))

# ---------------------------------------------------------------- api
OWN = "Origin: http://127.0.0.1:8080\n"
def api(name, line, headers="", body=""):
    write("api", name, line + "\n" + headers + "\n" + body)

api("status", "GET /api/v1/status")
api("set-isotonic-staff", "POST /api/v1/sets", "Authorization: staff\n" + OWN,
    '{"mode":"isotonic","load_n":500,"tempo":"3-1-3-1","target_reps":12}')
api("set-guest", "POST /api/v1/sets", "Authorization: guest\n",
    '{"mode":"isotonic","load_n":400,"tempo":"2.5-0-2-1","target_reps":8,"force_drop_pct":25}')
api("set-eccentric-member", "POST /api/v1/sets", "Authorization: member\n" + OWN,
    '{"mode":"eccentric","load_n":700,"tempo":"4-1-2-0","target_reps":6,"eccentric_pct":30,"member_id":7}')
api("set-isometric", "POST /api/v1/sets", "Authorization: staff\n",
    '{"mode":"isometric","load_n":800,"hold_s":30,"member_id":7}')
api("set-foreign-origin", "POST /api/v1/sets", "Authorization: staff\nOrigin: http://evil.example\n",
    '{"mode":"isotonic","load_n":500,"tempo":"3-1-3-1","target_reps":12}')
api("stop-pain", "POST /api/v1/sets/current/stop", OWN, '{"reason":"pain"}')
api("get-set", "GET /api/v1/sets/1", "Authorization: member\n")
api("events", "GET /api/v1/events?since=2025-11-23T18:00:00Z&severity=warning&limit=2", "Authorization: staff\n")
api("events-paged", "GET /api/v1/events?since=1763921100000&code=drive_fault&offset=0&before=400",
    "Authorization: maintenance\n")
api("login-member", "POST /api/v1/login", "", '{"member":"1042","pin":"2580"}')
api("login-guest", "POST /api/v1/login", "", '{"role":"guest"}')
api("logout", "POST /api/v1/logout", "Authorization: guest\n")
api("me", "GET /api/v1/me", "Authorization: member\n")
api("member-create", "POST /api/v1/members", "Authorization: staff\n",
    '{"number":"1043","name":"Ann Example","pin":null,"assessed_max_n":900}')  # a PIN costs a 0.3 s PBKDF2
api("member-update", "PUT /api/v1/members/7", "Authorization: staff\n",
    '{"name":"Ann Example","notes":"left knee: no full depth","assessed_max_n":null}')
api("member-programme", "PUT /api/v1/members/7/programme", "Authorization: staff\n", '{"programme_id": 3}')
api("member-history", "GET /api/v1/members/7/history?limit=1", "Authorization: member\n")
api("programme-create", "POST /api/v1/programmes", "Authorization: staff\n",
    '{"name":"Calf strength A","steps":[{"mode":"isotonic","sets":3,"target_reps":12,"load_pct":70,'
    '"tempo":"3-1-3-1","rest_s":120,"progression":{"rule":"load_pct","amount":2.5}},'
    '{"mode":"isometric","sets":2,"hold_s":30,"load_n":800}],'
    '"sessions_per_week":4,"block_weeks":6,"after_block_sessions_per_week":3}')
api("programme-delete", "DELETE /api/v1/programmes/3", "Authorization: staff\n")
api("maintenance-span", "POST /api/v1/maintenance/span", "Authorization: maintenance\n", '{"known_n": 981}')
api("diagnostics", "GET /api/v1/maintenance/diagnostics", "Authorization: maintenance\n")
api("session-start", "POST /api/v1/session/start", "Authorization: member\n" + OWN, "{}")
