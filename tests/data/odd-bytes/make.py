"""Writes the samples of this folder (run from it: python make.py); see README.md."""

lines = [
    "Dec  4 09:12:01 mac1 syslogd[43]: ASL Sender Statistics",
    "Dec  4 09:12:07 mac1 kernel[0]: Sandbox: mdworker(311) deny file-read-data",
    "Dec  4 09:13:44 mac1 com.apple.xpc.launchd[1]: (com.apple.quicklook[4211]) Service exited",
]
with open("classic-mac-cr.log", "wb") as f:
    f.write("\r".join(lines).encode() + b"\r")
iis = [
    "#Software: Microsoft Internet Information Services 10.0",
    "#Fields: date time s-ip cs-method cs-uri-stem sc-status",
    "2024-01-21 10:00:01 10.0.0.5 GET /index.html 200",
    "2024-01-21 10:00:02 10.0.0.5 GET /caf\u00e9.png 404",
]
with open("iis-crlf.log", "wb") as f:
    f.write("\r\n".join(iis).encode() + b"\r\n")
ps = [
    '{"level":"info","msg":"Service gestartet","user":"J\u00fcrgen"}',
    '{"level":"warn","msg":"Speicher \u2265 90%"}',
]
with open("powershell-utf16le.jsonl", "wb") as f:
    f.write(b"\xff\xfe" + "\r\n".join(ps).encode("utf-16-le") + "\r\n".encode("utf-16-le"))
with open("notepad-utf8-bom.jsonl", "wb") as f:
    f.write(b"\xef\xbb\xbf" + b'{"a":1}\n{"a":2}\n')
ap = (
    '192.0.2.7 - - [21/Jan/2024:10:00:00 +0100] "GET /men\u00fc.html HTTP/1.0" 200 512 "-" '
    '"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; fran\u00e7ais)"'
)
with open("apache-latin1.log", "wb") as f:
    f.write(ap.encode("latin-1") + b"\n")
with open("windows-cp1252.log", "wb") as f:
    f.write("2024-01-21 price \u201c5 \u20ac\u201d ok\n".encode("cp1252"))
    f.write(b"2024-01-21 odd byte \x81 here\n")
