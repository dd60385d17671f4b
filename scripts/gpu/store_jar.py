"""Rewrites a jar (zip) with every entry stored uncompressed, so that an outer xz compresses the class files
themselves. The JVM reads stored and deflated entries alike.
    python3 store_jar.py IN.jar OUT.jar
"""
import sys
import zipfile

src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
    for info in zin.infolist():
        data = zin.read(info.filename)
        info.compress_type = zipfile.ZIP_STORED
        zout.writestr(info, data)
