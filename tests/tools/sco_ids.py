#!/usr/bin/env python3
"""Expected deterministic SCO ids, computed independently of kizuna's C code.

STIX 2.1 (sections 2.9 and 3.4): the id of a cyber-observable object is
"<type>--" and the UUIDv5, under namespace 00abedb4-aa42-466c-9c01-
fed23315a9b7, of the RFC 8785 (JCS) canonical JSON of an object holding the
type's ID Contributing Properties that are present. From a hashes dictionary
one hash contributes: MD5, else SHA-1, else SHA-256, else SHA-512, else the
first one. Objects with none of the properties get a UUIDv4 ("-" below).

Standard library only: uuid.uuid5 and a JCS for the JSON subset SCOs carry.
Prints one line per case, "<input JSON on one line>\t<expected id or ->";
lines starting with '#' are comments. The inputs include the SCO examples
of the specification, whose ids (regenerated with python-stix2 in STIX 2.1
Errata 01) are checked here too.

Usage: python3 tests/tools/sco_ids.py > tests/data/stix/sco_ids.tsv
"""
import json
import math
import sys
import uuid

NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")

ID_CONTRIBUTING = {
    "artifact": ["hashes", "payload_bin"],
    "autonomous-system": ["number"],
    "directory": ["path"],
    "domain-name": ["value"],
    "email-addr": ["value"],
    "email-message": ["from_ref", "subject", "body"],
    "file": ["hashes", "name", "extensions", "parent_directory_ref"],
    "ipv4-addr": ["value"],
    "ipv6-addr": ["value"],
    "mac-addr": ["value"],
    "mutex": ["name"],
    "network-traffic": ["start", "end", "src_ref", "dst_ref", "src_port", "dst_port",
                        "protocols", "extensions"],
    "process": [],
    "software": ["name", "cpe", "swid", "vendor", "version"],
    "url": ["value"],
    "user-account": ["account_type", "user_id", "account_login"],
    "windows-registry-key": ["key", "values"],
    "x509-certificate": ["hashes", "serial_number"],
}

HASH_PREFERENCE = ["MD5", "SHA-1", "SHA-256", "SHA-512"]


def jcs_string(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif o < 0x20:
            short = {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}
            out.append(short.get(o, "\\u%04x" % o))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jcs_number(x):
    """ECMAScript Number::toString of a double (RFC 8785 3.2.2.3)."""
    if isinstance(x, bool):
        raise TypeError("bool")
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        raise ValueError("not representable")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    r = repr(abs(x))  # shortest round-trip digits
    if "e" in r:
        mant, exp = r.split("e")
        exp = int(exp)
    else:
        mant, exp = r, 0
    if "." in mant:
        ip, fp = mant.split(".")
    else:
        ip, fp = mant, ""
    digits = (ip + fp).lstrip("0")
    # position of the decimal point relative to the digit string
    point = len(ip) + exp - (len(ip + fp) - len((ip + fp).lstrip("0")))
    digits = digits.rstrip("0") or "0"
    k, n = len(digits), point
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    es = ("+" if e >= 0 else "-") + str(abs(e))
    if k == 1:
        return sign + digits + "e" + es
    return sign + digits[0] + "." + digits[1:] + "e" + es


def jcs(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return jcs_number(v) if abs(v) >= 2**53 else str(v)
    if isinstance(v, float):
        return jcs_number(v)
    if isinstance(v, str):
        return jcs_string(v)
    if isinstance(v, list):
        return "[" + ",".join(jcs(e) for e in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(jcs_string(k) + ":" + jcs(v[k]) for k in keys) + "}"
    raise TypeError(type(v))


def sco_id(obj):
    props = ID_CONTRIBUTING.get(obj["type"])
    if props is None:
        return None
    contributing = {}
    for p in props:
        if p not in obj:
            continue
        if p == "hashes":
            h = obj[p]
            key = next((k for k in HASH_PREFERENCE if k in h), next(iter(h), None))
            if key is None:
                continue
            contributing[p] = {key: h[key]}
        else:
            contributing[p] = obj[p]
    if not contributing:
        return None
    return "%s--%s" % (obj["type"], uuid.uuid5(NAMESPACE, jcs(contributing)))


# (raw JSON text on one line, id given by the specification or None)
SPEC_EXAMPLES = [
    ('{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"198.51.100.3"}',
     "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"),
    ('{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--1ea47840-aa39-5aa8-b4a2-cd203eb6662a","value":"198.51.100.0/24"}',
     "ipv4-addr--1ea47840-aa39-5aa8-b4a2-cd203eb6662a"),
    ('{"type":"ipv4-addr","spec_version":"2.1","value":"198.52.200.4"}',
     "ipv4-addr--055987b7-7d94-5326-8e20-c3dad8241976"),
    ('{"type":"ipv4-addr","value":"198.51.100.2"}', "ipv4-addr--9cf4a8ec-7640-5f40-a006-79942896168b"),
    ('{"type":"ipv4-addr","value":"203.0.113.1"}', "ipv4-addr--ad74bc22-43d2-52ed-890e-7d382f58e1eb"),
    ('{"type":"ipv4-addr","value":"203.0.113.5"}', "ipv4-addr--826fe3cb-56b0-5620-9d30-4c17ed7b24e3"),
    ('{"type":"ipv4-addr","value":"203.0.113.2"}', "ipv4-addr--a2935766-2522-5939-9513-cc3536f212a3"),
    ('{"type":"ipv4-addr","value":"198.51.100.34"}', "ipv4-addr--13cba85b-1780-5517-b600-7b6546cfd760"),
    ('{"type":"ipv4-addr","value":"198.51.100.54"}', "ipv4-addr--23476ffc-8715-5eee-bd37-2f204b7db486"),
    ('{"type":"ipv4-addr","value":"198.51.100.53"}', "ipv4-addr--165070a8-c561-58a8-8659-fce2f255c2c0"),
    ('{"type":"ipv4-addr","value":"198.51.100.9"}', "ipv4-addr--4b8ed646-46df-5a9c-b5a6-b3ae128f35a6"),
    ('{"type":"ipv4-addr","value":"198.51.100.5"}', "ipv4-addr--f85034be-e4ad-5153-aa6b-79c450eb25b3"),
    ('{"type":"ipv4-addr","value":"198.51.100.6"}', "ipv4-addr--72073c96-1246-5058-8e5c-6ca59d656dee"),
    ('{"type":"ipv6-addr","spec_version":"2.1","value":"2001:0db8:85a3:0000:0000:8a2e:0370:7334"}',
     "ipv6-addr--85a85a8c-ee99-5722-946d-3c3a3270fc6f"),
    ('{"type":"ipv6-addr","spec_version":"2.1","value":"2001:0db8::/96"}',
     "ipv6-addr--084d3b4c-7785-568a-a569-0c61c95754ab"),
    ('{"type":"autonomous-system","spec_version":"2.1","number":15139,"name":"Slime Industries","rir":"ARIN"}',
     "autonomous-system--3aa27478-50b5-5ab8-9da9-cdc12b657fff"),
    ('{"type":"directory","spec_version":"2.1","path":"C:\\\\Windows\\\\System32"}',
     "directory--0a58d0c1-59e6-5afd-8252-dcd3f13e5622"),
    ('{"type":"domain-name","spec_version":"2.1","value":"example.com","resolves_to_refs":["ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"]}',
     "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"),
    ('{"type":"email-addr","spec_version":"2.1","value":"john@example.com","display_name":"John Doe"}',
     "email-addr--7165e2a9-671f-585d-b1e1-ca59c671d934"),
    ('{"type":"email-addr","value":"jdoe@example.com","display_name":"John Doe"}',
     "email-addr--6deb37bd-12b7-54ae-805f-5f7146f3d171"),
    ('{"type":"email-addr","value":"mary@example.com","display_name":"Mary Smith"}',
     "email-addr--2aeeb98c-9db4-525e-874d-221fdfe9f76e"),
    ('{"type":"email-addr","value":"joe@example.com","display_name":"Joe Smith"}',
     "email-addr--9b7e29b3-fd8d-562e-b3f0-8fc8134f5dda"),
    ('{"type":"email-addr","value":"bob@example.com","display_name":"Bob Smith"}',
     "email-addr--3734e66b-c4e8-5d0b-bca9-befdd5699746"),
    ('{"type":"email-message","spec_version":"2.1","from_ref":"email-addr--6deb37bd-12b7-54ae-805f-5f7146f3d171","to_refs":["email-addr--2aeeb98c-9db4-525e-874d-221fdfe9f76e"],"is_multipart":false,"date":"1997-11-21T15:55:06.000Z","subject":"Saying Hello"}',
     "email-message--92fa1bfd-2c62-5a30-8b7c-5b91ea73cf29"),
    ('{"type":"email-message","spec_version":"2.1","from_ref":"email-addr--9b7e29b3-fd8d-562e-b3f0-8fc8134f5dda","to_refs":["email-addr--3734e66b-c4e8-5d0b-bca9-befdd5699746"],"is_multipart":false,"date":"2004-04-19T12:22:23.000Z","subject":"Did you see this?","additional_header_fields":{"Reply-To":["steve@example.com","jane@example.com"]}}',
     "email-message--0c57a381-2a17-5e61-8754-5ef96efb286c"),
    ('{"type":"email-message","spec_version":"2.1","is_multipart":true,"content_type":"multipart/mixed","date":"2016-06-19T14:20:40.000Z","from_ref":"email-addr--6deb37bd-12b7-54ae-805f-5f7146f3d171","subject":"Check out this picture of a cat!"}',
     "email-message--d7d69ead-3347-5772-815a-7766dc29c72c"),
    ('{"type":"file","spec_version":"2.1","hashes":{"SHA-256":"fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db"},"size":25536,"name":"foo.dll"}',
     "file--949eb97a-da1e-5292-8959-03c4249dc9f3"),
    ('{"type":"file","spec_version":"2.1","hashes":{"SHA-256":"841a8921140aba50671ebb0770fecc4ee308c4952cfeff8de154ab14eeef4649"},"name":"qu\u00eary.dll","name_enc":"windows-1252"}',
     "file--7d1e3a18-89e7-5bc5-be36-9879f5b7f5c8"),
    ('{"type":"file","spec_version":"2.1","hashes":{"SHA-256":"ceafbfd424be2ca4a5f0402cae090dda2fb0526cf521b60b60077c0f622b285a"},"parent_directory_ref":"directory--0a58d0c1-59e6-5afd-8252-dcd3f13e5622","name":"qwerty.dll"}',
     "file--39643577-13b7-5f21-9584-df7e7c33f357"),
    ('{"type":"file","spec_version":"2.1","hashes":{"SHA-256":"ceafbfd424be2ca4a5f0402cae090dda2fb0526cf521b60b60077c0f622b285a"}}',
     "file--70221dbf-52fd-5377-9619-c0ce6b3ffc8c"),
    ('{"type":"file","spec_version":"2.1","hashes":{"SHA-256":"19c549ec2628b989382f6b280cbd7bb836a0b461332c0fe53511ce7d584b89d3"}}',
     "file--c0e2b1c9-232d-5b64-8b74-b6aee5bb9c47"),
    ('{"type":"file","spec_version":"2.1","hashes":{"SHA-256":"0969de02ecf8a5f003e3f6d063d848c8a193aada092623f8ce408c15bcb5f038"}}',
     "file--5d0833b7-065e-571f-8bf2-657cb9569570"),
    ('{"type":"file","spec_version":"2.1","name":"foo.zip","hashes":{"SHA-256":"35a01331e9ad96f751278b891b6ea09699806faedfa237d40513d92ad1b7100f"},"mime_type":"application/zip","extensions":{"archive-ext":{"contains_refs":["file--70221dbf-52fd-5377-9619-c0ce6b3ffc8c","file--c0e2b1c9-232d-5b64-8b74-b6aee5bb9c47","file--5d0833b7-065e-571f-8bf2-657cb9569570"]}}}',
     "file--9a1f834d-2506-5367-baec-7aa63996ac43"),
    ('{"type":"file","spec_version":"2.1","hashes":{"SHA-256":"35a01331e9ad96f751278b891b6ea09699806faedfa237d40513d92ad1b7100f"},"extensions":{"ntfs-ext":{"alternate_data_streams":[{"name":"second.stream","size":25536}]}}}',
     "file--ba04c974-3cef-5f42-adc7-084d467874e2"),
    ('{"type":"file","spec_version":"2.1","name":"example.pdf","extensions":{"pdf-ext":{"version":"1.7","document_info_dict":{"Title":"Sample document","Author":"Adobe Systems Incorporated","Creator":"Adobe FrameMaker 5.5.3 for Power Macintosh","Producer":"Acrobat Distiller 3.01 for Power Macintosh","CreationDate":"20070412090123-02"},"pdfid0":"DFCE52BD827ECF765649852119D","pdfid1":"57A1E0F9ED2AE523E313C"}}}',
     "file--965aa96f-d90a-506a-8317-d38d44b235f9"),
    ('{"type":"file","spec_version":"2.1","name":"picture.jpg","hashes":{"SHA-256":"4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877"},"extensions":{"raster-image-ext":{"exif_tags":{"Make":"Nikon","Model":"D7000","XResolution":4928,"YResolution":3264}}}}',
     "file--66772174-3442-5e0d-b577-4bd7be55fb87"),
    ('{"type":"file","spec_version":"2.1","name":"example.exe","extensions":{"windows-pebinary-ext":{"pe_type":"exe","machine_hex":"014c","number_of_sections":4,"time_date_stamp":"2016-01-22T12:31:12Z","pointer_to_symbol_table_hex":"74726144","number_of_symbols":4542568,"size_of_optional_header":224,"characteristics_hex":"818f","optional_header":{"magic_hex":"010b","major_linker_version":2,"minor_linker_version":25,"size_of_code":512,"size_of_initialized_data":283648,"size_of_uninitialized_data":0,"address_of_entry_point":4096,"base_of_code":4096,"base_of_data":8192,"image_base":14548992,"section_alignment":4096,"file_alignment":4096,"major_os_version":1,"minor_os_version":0,"major_image_version":0,"minor_image_version":0,"major_subsystem_version":4,"minor_subsystem_version":0,"win32_version_value_hex":"00","size_of_image":299008,"size_of_headers":4096,"checksum_hex":"00","subsystem_hex":"03","dll_characteristics_hex":"00","size_of_stack_reserve":100000,"size_of_stack_commit":8192,"size_of_heap_reserve":100000,"size_of_heap_commit":4096,"loader_flags_hex":"abdbffde","number_of_rva_and_sizes":3758087646},"sections":[{"name":"CODE","entropy":0.061089},{"name":"DATA","entropy":7.980693},{"name":"NicolasB","entropy":0.607433},{"name":".idata","entropy":0.607433}]}}}',
     "file--9af228db-9a04-5787-ad43-ccadc137a0e2"),
    ('{"type":"file","spec_version":"2.1","hashes":{"MD5":"3773a88f65a5e780c8dff9cdc3a056f3"},"size":25537,"extensions":{"ntfs-ext":{"sid":"1234567"}}}',
     "file--1b40e321-ae73-5637-bd97-33c35a86b80d"),
    ('{"type":"file","spec_version":"2.1","id":"file--ba8965d8-e4ec-5f9c-a4df-1c460994ca58","hashes":{"MD5":"a92e5b2bae0b4b3a3d81c85610b95cd4","SHA-1":"5374e08903744ceeaedd8f5e1bfc06b2c4688e76"},"size":77312,"name":"a92e5b2bae.exe","parent_directory_ref":"directory--ab82f84a-5afc-5ea7-8d98-9fcbc277eda6"}',
     "file--ba8965d8-e4ec-5f9c-a4df-1c460994ca58"),
    ('{"type":"directory","spec_version":"2.1","path":"C:\\\\"}', "directory--ab82f84a-5afc-5ea7-8d98-9fcbc277eda6"),
    ('{"type":"file","spec_version":"2.1","name":"gedit-bin","hashes":{"SHA-256":"aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"}}',
     "file--3eb55c0e-fe96-588b-a7ab-10f55f7ec596"),
    ('{"type":"file","spec_version":"2.1","hashes":{"SHA-256":"bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c"},"name":"sirvizio.exe"}',
     "file--ca7d6a8a-b79e-5c3b-b736-8d48adcf0c97"),
    ('{"type":"file","spec_version":"2.1","name":"tabby_pics.zip","magic_number_hex":"504B0304","hashes":{"SHA-256":"fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db"}}',
     "file--cfebcece-2336-51b0-baf1-d94daae5e1d1"),
    ('{"type":"mac-addr","spec_version":"2.1","value":"d2:fb:49:24:37:18"}', "mac-addr--757b1725-9903-54f5-a855-1240691d7659"),
    ('{"type":"mutex","spec_version":"2.1","name":"__CLEANSWEEP__"}', "mutex--f93fe911-e545-5239-b9b0-597840d0c871"),
    ('{"type":"network-traffic","spec_version":"2.1","src_ref":"ipv4-addr--9cf4a8ec-7640-5f40-a006-79942896168b","dst_ref":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","protocols":["tcp"]}',
     "network-traffic--6e0cb830-0305-57d4-8536-7be874d42005"),
    ('{"type":"network-traffic","spec_version":"2.1","dst_ref":"domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7","protocols":["ipv4","tcp","http"]}',
     "network-traffic--c695ada6-5d5d-5446-a661-935874e1d058"),
    ('{"type":"network-traffic","spec_version":"2.1","src_ref":"ipv4-addr--ad74bc22-43d2-52ed-890e-7d382f58e1eb","dst_ref":"ipv4-addr--826fe3cb-56b0-5620-9d30-4c17ed7b24e3","protocols":["ipv4","tcp"],"src_byte_count":147600,"src_packets":100,"ipfix":{"minimumIpTotalLength":32,"maximumIpTotalLength":2556}}',
     "network-traffic--44eb3012-751d-5c12-b9ba-1506e42e26ef"),
    ('{"type":"network-traffic","spec_version":"2.1","src_ref":"ipv4-addr--9cf4a8ec-7640-5f40-a006-79942896168b","dst_ref":"ipv4-addr--ad74bc22-43d2-52ed-890e-7d382f58e1eb","src_port":2487,"dst_port":1723,"protocols":["ipv4","pptp"],"src_byte_count":35779,"dst_byte_count":935750,"encapsulates_refs":["network-traffic--8dce0dc4-f5ea-5313-8e6c-03646d419b6a"]}',
     "network-traffic--372c0c73-777a-50de-bc3a-92cc72fcf7dd"),
    ('{"type":"network-traffic","spec_version":"2.1","src_ref":"ipv4-addr--9cf4a8ec-7640-5f40-a006-79942896168b","dst_ref":"ipv4-addr--a2935766-2522-5939-9513-cc3536f212a3","src_port":24678,"dst_port":80,"protocols":["ipv4","tcp","http"],"src_packets":14356,"dst_packets":14356,"encapsulated_by_ref":"network-traffic--372c0c73-777a-50de-bc3a-92cc72fcf7dd"}',
     "network-traffic--8dce0dc4-f5ea-5313-8e6c-03646d419b6a"),
    ('{"type":"network-traffic","spec_version":"2.1","dst_ref":"ipv4-addr--165070a8-c561-58a8-8659-fce2f255c2c0","protocols":["tcp","http"],"extensions":{"http-request-ext":{"request_method":"get","request_value":"/download.html","request_version":"http/1.1","request_header":{"Accept-Encoding":["gzip,deflate"],"User-Agent":["Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.6) Gecko/20040113"],"Host":["www.example.com"]}}}}',
     "network-traffic--fdd6dbda-a206-52fe-b19b-64d908748850"),
    ('{"type":"network-traffic","spec_version":"2.1","src_ref":"ipv4-addr--4b8ed646-46df-5a9c-b5a6-b3ae128f35a6","dst_ref":"ipv4-addr--826fe3cb-56b0-5620-9d30-4c17ed7b24e3","protocols":["icmp"],"extensions":{"icmp-ext":{"icmp_type_hex":"08","icmp_code_hex":"00"}}}',
     "network-traffic--4f156a67-4efc-58fb-b0a7-f2612927a37d"),
    ('{"type":"network-traffic","spec_version":"2.1","src_ref":"ipv4-addr--9cf4a8ec-7640-5f40-a006-79942896168b","src_port":223,"protocols":["ip","tcp"],"extensions":{"socket-ext":{"is_listening":true,"address_family":"AF_INET","socket_type":"SOCK_STREAM"}}}',
     "network-traffic--59d8852c-0c68-5e0c-8ae2-f3c46bd7b1df"),
    ('{"type":"network-traffic","spec_version":"2.1","src_ref":"ipv4-addr--f85034be-e4ad-5153-aa6b-79c450eb25b3","dst_ref":"ipv4-addr--72073c96-1246-5058-8e5c-6ca59d656dee","src_port":3372,"dst_port":80,"protocols":["tcp"],"extensions":{"tcp-ext":{"src_flags_hex":"00000002"}}}',
     "network-traffic--47b27c77-4272-563f-91ca-87e2a4afd6ef"),
    ('{"type":"software","spec_version":"2.1","name":"Word","cpe":"cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*","version":"2002","vendor":"Microsoft"}',
     "software--710b0b41-d4d0-5d6c-a400-fc9254554ffc"),
    ('{"type":"url","spec_version":"2.1","value":"https://example.com/research/index.html"}',
     "url--47c3cf9a-5027-5bf0-997a-017c7edc7c55"),
    ('{"type":"user-account","spec_version":"2.1","user_id":"1001","account_login":"jdoe","account_type":"unix","display_name":"John Doe","is_service_account":false,"is_privileged":false,"can_escalate_privs":true,"account_created":"2016-01-20T12:31:12Z","credential_last_changed":"2016-01-20T14:27:43Z","account_first_login":"2016-01-20T14:26:07Z","account_last_login":"2016-07-22T16:08:28Z"}',
     "user-account--f94d689e-707d-58c3-b803-c720bb6ed096"),
    ('{"type":"user-account","spec_version":"2.1","user_id":"thegrugq_ebooks","account_login":"thegrugq_ebooks","account_type":"twitter","display_name":"the grugq"}',
     "user-account--f223e803-846b-591a-aefa-545e938f8a56"),
    ('{"type":"windows-registry-key","spec_version":"2.1","key":"HKEY_LOCAL_MACHINE\\\\System\\\\Foo\\\\Bar"}',
     "windows-registry-key--1884b770-b679-522a-a9c7-45fadaaec7bb"),
    ('{"type":"windows-registry-key","spec_version":"2.1","key":"hkey_local_machine\\\\system\\\\bar\\\\foo","values":[{"name":"Foo","data":"qwerty","data_type":"REG_SZ"},{"name":"Bar","data":"42","data_type":"REG_DWORD"}]}',
     "windows-registry-key--f6a11ddf-fa2b-54c8-97ab-e7f28413095a"),
    ('{"type":"x509-certificate","spec_version":"2.1","issuer":"C=ZA, ST=Western Cape, L=Cape Town, O=Thawte Consulting cc, OU=Certification Services Division, CN=Thawte Server CA/emailAddress=server-certs@thawte.com","validity_not_before":"2016-03-12T12:00:00Z","validity_not_after":"2016-08-21T12:00:00Z","subject":"C=US, ST=Maryland, L=Pasadena, O=Brent Baccala, OU=FreeSoft, CN=www.freesoft.org/emailAddress=baccala@freesoft.org","serial_number":"36:f7:d4:32:f4:ab:70:ea:d3:ce:98:6e:ea:99:93:49:32:0a:b7:06"}',
     "x509-certificate--bf86f034-2390-54d7-8426-d08433db3fbe"),
    ('{"type":"x509-certificate","spec_version":"2.1","serial_number":"02:08:87:83:f2:13:58:1f:79:52:1e:66:90:0a:02:24:c9:6b:c7:dc"}',
     "x509-certificate--5adb038a-160d-5d1c-826e-bde4926a0d2d"),
]

# Vectors from python-stix2's tests (stix2/test/v21/test_deterministic_ids.py).
LIBRARY_VECTORS = [
    ('{"type":"file","name":"example.exe","size":68000,"magic_number_hex":"50000000","hashes":{"SHA-256":"841a8921140aba50671ebb0770fecc4ee308c4952cfeff8de154ab14eeef4649"},"extensions":{"windows-pebinary-ext":{"pe_type":"exe","machine_hex":"014c","sections":[{"name":".data","size":4096,"entropy":7.980693,"hashes":{"SHA-256":"6e3b6f3978e5cd96ba7abee35c24e867b7e64072e2ecb22d0ee7a6e6af6894d0"}}]}}}',
     "file--ced31cd4-bdcb-537d-aefa-92d291bfc11d"),
    ('{"type":"windows-registry-key","values":[{"name":"Foo","data":"qwerty"},{"name":"Bar","data":"42"}]}',
     "windows-registry-key--36594eba-bcc7-5014-9835-0e154264e588"),
]

# Examples whose printed id cannot be reproduced from the example as printed
# (nor, for the two tried, from any subset of its properties). The other 45
# ids the specification prints and python-stix2's two vectors are reproduced,
# so these are taken to be stale: computed from earlier versions of the
# examples, most of which carry references. Kept with the computed id.
STALE = {
    "email-addr--9b7e29b3-fd8d-562e-b3f0-8fc8134f5dda",
    "email-message--92fa1bfd-2c62-5a30-8b7c-5b91ea73cf29",
    "email-message--0c57a381-2a17-5e61-8754-5ef96efb286c",
    "email-message--d7d69ead-3347-5772-815a-7766dc29c72c",
    "file--39643577-13b7-5f21-9584-df7e7c33f357",
    "file--9a1f834d-2506-5367-baec-7aa63996ac43",
    "file--1b40e321-ae73-5637-bd97-33c35a86b80d",
    "file--ba8965d8-e4ec-5f9c-a4df-1c460994ca58",
    "network-traffic--6e0cb830-0305-57d4-8536-7be874d42005",
    "network-traffic--c695ada6-5d5d-5446-a661-935874e1d058",
    "network-traffic--44eb3012-751d-5c12-b9ba-1506e42e26ef",
    "network-traffic--372c0c73-777a-50de-bc3a-92cc72fcf7dd",
    "network-traffic--8dce0dc4-f5ea-5313-8e6c-03646d419b6a",
    "network-traffic--fdd6dbda-a206-52fe-b19b-64d908748850",
    "network-traffic--4f156a67-4efc-58fb-b0a7-f2612927a37d",
    "network-traffic--59d8852c-0c68-5e0c-8ae2-f3c46bd7b1df",
    "network-traffic--47b27c77-4272-563f-91ca-87e2a4afd6ef",
}

# Cases the specification does not cover: escapes, non-BMP characters and
# the UTF-16 key order of RFC 8785, numbers, hash selection, extensions.
EDGE_CASES = [
    '{"type":"file","hashes":{"SHA-256":"fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db","MD5":"3773a88f65a5e780c8dff9cdc3a056f3","SHA-1":"5374e08903744ceeaedd8f5e1bfc06b2c4688e76"},"name":"a.dll"}',
    '{"type":"file","hashes":{"SHA-512":"' + "ab" * 64 + '","SHA-256":"' + "cd" * 32 + '"}}',
    '{"type":"file","hashes":{"x_custom":"abc","SHA3-256":"' + "ef" * 32 + '"}}',
    '{"type":"file","hashes":{"SSDEEP":"3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C","TLSH":"' + "0A" * 35 + '"}}',
    '{"type":"file","name":"qu\\u00eary\\u0007\\ud83d\\ude00 \\"quoted\\" \\\\ \\/slash.dll"}',
    '{"type":"file","name":"\\u0000\\u001f\\u007f\\u2028\\ufeff"}',
    '{"type":"file","name":"\u65e5\u672c\u8a9e\u306e\u30d5\u30a1\u30a4\u30eb.txt"}',
    '{"type":"file","name":"x","extensions":{"x-acme-ext":{"x_\\u00e9":1,"x_z":2,"x_\\ud83d\\ude00":3,"x_\\uff5e":4,"A":5,"a":6,"x_10":7,"x_9":8}}}',
    '{"type":"file","name":"n","extensions":{"windows-pebinary-ext":{"pe_type":"exe","sections":[{"name":"a","entropy":1e21},{"name":"b","entropy":1e-7},{"name":"c","entropy":0.000001},{"name":"d","entropy":123456789012345680000},{"name":"e","entropy":5.0},{"name":"f","entropy":-0.5},{"name":"g","entropy":1E+2},{"name":"h","entropy":2.5e-3}]}}}',
    '{"type":"file","name":"z","parent_directory_ref":"directory--0a58d0c1-59e6-5afd-8252-dcd3f13e5622","extensions":{"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e":{"extension_type":"property-extension","rank":5,"toxicity":8}}}',
    '{"type":"network-traffic","start":"2016-01-20T14:11:25.55Z","end":"2016-01-20T14:11:26Z","src_ref":"ipv4-addr--9cf4a8ec-7640-5f40-a006-79942896168b","src_port":0,"dst_port":65535,"protocols":["ipv6","tcp","ssl","https"]}',
    '{"type":"email-message","is_multipart":false,"body":"Hello,\\r\\n\\tworld \\u00e9\\n"}',
    '{"type":"email-message","is_multipart":false,"subject":"only a subject"}',
    '{"type":"email-message","is_multipart":true,"date":"2016-06-19T14:20:40.000Z"}',
    '{"type":"user-account","account_type":"windows-local","user_id":"S-1-5-21-1","account_login":"Administrator"}',
    '{"type":"user-account","user_id":"0"}',
    '{"type":"user-account","display_name":"nobody"}',
    '{"type":"process","pid":1221,"command_line":"./gedit-bin --new-window"}',
    '{"type":"software","name":"\u30bd\u30d5\u30c8","swid":"swid:example.com:1","languages":["ja","en"]}',
    '{"type":"artifact","mime_type":"image/png","payload_bin":"iVBORw0KGgo=","hashes":{"SHA-256":"' + "12" * 32 + '"}}',
    '{"type":"artifact","url":"https://example.com/a.bin","hashes":{"MD5":"3773a88f65a5e780c8dff9cdc3a056f3"}}',
    '{"type":"autonomous-system","number":4294967295}',
    '{"type":"windows-registry-key","key":"HKEY_CURRENT_USER\\\\Software\\\\\\u00e9","values":[{"name":"","data":"default"},{"data_type":"REG_NONE"}]}',
    '{"type":"x509-certificate","hashes":{"SHA-1":"5374e08903744ceeaedd8f5e1bfc06b2c4688e76","SHA-256":"' + "34" * 32 + '"},"serial_number":"01"}',
    '{"type":"url","value":"http://\u4f8b\u3048.jp/\u30d1\u30b9?q=1#f"}',
    '{"type":"domain-name","value":"xn--r8jz45g.jp"}',
    '{"type":"mutex","name":"Global\\\\{01234567-89ab-cdef-0123-456789abcdef}"}',
    '{"type":"ipv6-addr","value":"::ffff:198.51.100.3"}',
    '{"type":"mac-addr","value":"00:00:ab:cd:ef:01"}',
    '{"type":"directory","path":"/home/\u304b\u306a"}',
]


def main():
    out = sys.stdout
    out.write("# Expected deterministic SCO ids: <input JSON>\\t<id, or - for a UUIDv4>.\n")
    out.write("# Generated by tests/tools/sco_ids.py; do not edit by hand.\n")
    failures = 0
    for raw, known in SPEC_EXAMPLES + LIBRARY_VECTORS:
        got = sco_id(json.loads(raw))
        if known in STALE:
            out.write("# the specification prints %s for the next object\n" % known)
        elif got != known:
            failures += 1
            sys.stderr.write("computed %s, published %s\n" % (got, known))
        out.write("%s\t%s\n" % (raw, got))
    for raw in EDGE_CASES:
        got = sco_id(json.loads(raw))
        out.write("%s\t%s\n" % (raw, got or "-"))
    if failures:
        sys.stderr.write("%d published ids do not match\n" % failures)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
