/*
 * Rule tables of the STIX 2.1 cyber-observable objects (section 6), their
 * predefined extensions and nested types, and the checks per type that tie
 * one property to another. Syntax checks of addresses and names are
 * skipped for objects marked defanged (the value is then deliberately not
 * the real one).
 */
#include "stix/stix_int.h"

#include <string.h>
#include <strings.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct vtargets t_file_dir = {0, (const char *const[]){"file", "directory", NULL},
                                           "file or directory"};
static const struct vtargets t_addr = {
        0, (const char *const[]){"ipv4-addr", "ipv6-addr", "domain-name", NULL},
        "ipv4-addr, ipv6-addr or domain-name"};
static const struct vtargets t_net_end = {
        0, (const char *const[]){"ipv4-addr", "ipv6-addr", "mac-addr", "domain-name", NULL},
        "ipv4-addr, ipv6-addr, mac-addr or domain-name"};
static const struct vtargets t_user = {0, (const char *const[]){"user-account", NULL},
                                       "user-account"};
static const struct vtargets t_email = {0, (const char *const[]){"email-addr", NULL}, "email-addr"};
static const struct vtargets t_artifact = {0, (const char *const[]){"artifact", NULL}, "artifact"};
static const struct vtargets t_artifact_file = {0, (const char *const[]){"artifact", "file", NULL},
                                                "artifact or file"};
static const struct vtargets t_file = {0, (const char *const[]){"file", NULL}, "file"};
static const struct vtargets t_directory = {0, (const char *const[]){"directory", NULL},
                                            "directory"};
static const struct vtargets t_mac = {0, (const char *const[]){"mac-addr", NULL}, "mac-addr"};
static const struct vtargets t_as = {0, (const char *const[]){"autonomous-system", NULL},
                                     "autonomous-system"};
static const struct vtargets t_traffic = {0, (const char *const[]){"network-traffic", NULL},
                                          "network-traffic"};
static const struct vtargets t_process = {0, (const char *const[]){"process", NULL}, "process"};
static const struct vtargets t_sco = {VT_SCO | VT_CUSTOM, NULL, "SCO"};

#define INT_NONNEG(n) PR(n, VK_INT, 0, NULL, 0, 9007199254740991.0)

/* --- enumerations (section 10) ----------------------------------------------- */

static const char *const encryption_algorithm_enum[] = {"AES-256-GCM", "ChaCha20-Poly1305",
                                                        "mime-type-indicated", NULL};
static const char *const address_family_enum[] = {"AF_UNSPEC",    "AF_INET",    "AF_IPX",
                                                  "AF_APPLETALK", "AF_NETBIOS", "AF_INET6",
                                                  "AF_IRDA",      "AF_BTH",     NULL};
static const char *const socket_type_enum[] = {"SOCK_STREAM", "SOCK_DGRAM",     "SOCK_RAW",
                                               "SOCK_RDM",    "SOCK_SEQPACKET", NULL};
static const char *const integrity_level_enum[] = {"low", "medium", "high", "system", NULL};
static const char *const registry_datatype_enum[] = {"REG_NONE",
                                                     "REG_SZ",
                                                     "REG_EXPAND_SZ",
                                                     "REG_BINARY",
                                                     "REG_DWORD",
                                                     "REG_DWORD_BIG_ENDIAN",
                                                     "REG_DWORD_LITTLE_ENDIAN",
                                                     "REG_LINK",
                                                     "REG_MULTI_SZ",
                                                     "REG_RESOURCE_LIST",
                                                     "REG_FULL_RESOURCE_DESCRIPTION",
                                                     "REG_RESOURCE_REQUIREMENTS_LIST",
                                                     "REG_QWORD",
                                                     "REG_INVALID_TYPE",
                                                     NULL};
static const char *const service_start_enum[] = {"SERVICE_AUTO_START",   "SERVICE_BOOT_START",
                                                 "SERVICE_DEMAND_START", "SERVICE_DISABLED",
                                                 "SERVICE_SYSTEM_ALERT", NULL};
static const char *const service_type_enum[] = {
        "SERVICE_KERNEL_DRIVER", "SERVICE_FILE_SYSTEM_DRIVER", "SERVICE_WIN32_OWN_PROCESS",
        "SERVICE_WIN32_SHARE_PROCESS", NULL};
static const char *const service_status_enum[] = {
        "SERVICE_CONTINUE_PENDING", "SERVICE_PAUSE_PENDING", "SERVICE_PAUSED",  "SERVICE_RUNNING",
        "SERVICE_START_PENDING",    "SERVICE_STOP_PENDING",  "SERVICE_STOPPED", NULL};

/* --- 6.1 artifact ------------------------------------------------------------------- */

static void check_artifact(struct vctx *c, const struct vobj *o)
{
    uint32_t bin = vget(o, "payload_bin"), url = vget(o, "url");

    if (bin && url)
        verr_at(c, "url", "must not be present together with payload_bin");
    else if (!bin && !url)
        verr(c, "an artifact must have payload_bin or url");
    if (url && !vget(o, "hashes"))
        verr_at(c, "hashes", "required property is missing: url is present");
    if (vget(o, "decryption_key") && !vget(o, "encryption_algorithm"))
        verr_at(c, "decryption_key", "must not be present without encryption_algorithm");
}

static const struct vprop artifact[] = {
        P("mime_type", VK_STRING, 0, NULL),
        P("payload_bin", VK_BINARY, 0, NULL),
        P("url", VK_URL, 0, NULL),
        P("hashes", VK_HASHES, 0, NULL),
        P("encryption_algorithm", VK_ENUM, 0, encryption_algorithm_enum),
        P("decryption_key", VK_STRING, 0, NULL),
};

/* --- 6.2 - 6.5 ------------------------------------------------------------------------ */

static const struct vprop autonomous_system[] = {
        P("number", VK_INT, VF_REQ, NULL),
        P("name", VK_STRING, 0, NULL),
        P("rir", VK_STRING, 0, NULL),
};

static const struct vprop directory[] = {
        P("path", VK_STRING, VF_REQ, NULL), P("path_enc", VK_STRING, 0, NULL),
        P("ctime", VK_TS, 0, NULL),         P("mtime", VK_TS, 0, NULL),
        P("atime", VK_TS, 0, NULL),         P("contains_refs", VK_REF, VF_LIST, &t_file_dir),
};

static const struct vprop domain_name[] = {
        P("value", VK_DOMAIN, VF_REQ, NULL),
        P("resolves_to_refs", VK_REF, VF_LIST, &t_addr),
};

static const struct vprop email_addr[] = {
        P("value", VK_EMAIL, VF_REQ, NULL),
        P("display_name", VK_STRING, 0, NULL),
        P("belongs_to_ref", VK_REF, 0, &t_user),
};

/* --- 6.6 email-message ---------------------------------------------------------------- */

static void check_mime_part(struct vctx *c, const struct vobj *o)
{
    if (!vget(o, "body") && !vget(o, "body_raw_ref"))
        verr(c, "a MIME part must have body or body_raw_ref");
}

static const struct vprop mime_part[] = {
        P("body", VK_STRING, 0, NULL),
        P("body_raw_ref", VK_REF, 0, &t_artifact_file),
        P("content_type", VK_STRING, 0, NULL),
        P("content_disposition", VK_STRING, 0, NULL),
};
static const struct vtable vt_mime_part = {"email-mime-part-type", mime_part, N(mime_part), 0,
                                           check_mime_part};

static void check_email_message(struct vctx *c, const struct vobj *o)
{
    uint32_t multi = vget(o, "is_multipart");

    if (!multi)
        return;
    if (kzj_type(c->d, multi) == KZJ_TRUE && vget(o, "body"))
        verr_at(c, "body", "must not be used when is_multipart is true");
    if (kzj_type(c->d, multi) == KZJ_FALSE && vget(o, "body_multipart"))
        verr_at(c, "body_multipart", "must not be used when is_multipart is false");
}

static const struct vprop email_message[] = {
        P("is_multipart", VK_BOOL, VF_REQ, NULL),
        P("date", VK_TS, 0, NULL),
        P("content_type", VK_STRING, 0, NULL),
        P("from_ref", VK_REF, 0, &t_email),
        P("sender_ref", VK_REF, 0, &t_email),
        P("to_refs", VK_REF, VF_LIST, &t_email),
        P("cc_refs", VK_REF, VF_LIST, &t_email),
        P("bcc_refs", VK_REF, VF_LIST, &t_email),
        P("message_id", VK_STRING, 0, NULL),
        P("subject", VK_STRING, 0, NULL),
        P("received_lines", VK_STRING, VF_LIST, NULL),
        P("additional_header_fields", VK_DICT_STRS, 0, NULL),
        P("body", VK_STRING, 0, NULL),
        P("body_multipart", VK_OBJECT, VF_LIST, &vt_mime_part),
        P("raw_email_ref", VK_REF, 0, &t_artifact),
};

/* --- 6.7 file and its extensions -------------------------------------------------------- */

static void check_file(struct vctx *c, const struct vobj *o)
{
    if (!vget(o, "hashes") && !vget(o, "name"))
        verr(c, "a file must have hashes or name");
}

static const struct vprop file[] = {
        P("hashes", VK_HASHES, 0, NULL),
        INT_NONNEG("size"),
        P("name", VK_STRING, 0, NULL),
        P("name_enc", VK_STRING, 0, NULL),
        P("magic_number_hex", VK_HEX, 0, NULL),
        P("mime_type", VK_STRING, 0, NULL),
        P("ctime", VK_TS, 0, NULL),
        P("mtime", VK_TS, 0, NULL),
        P("atime", VK_TS, 0, NULL),
        P("parent_directory_ref", VK_REF, 0, &t_directory),
        P("contains_refs", VK_REF, VF_LIST, &t_sco),
        P("content_ref", VK_REF, 0, &t_artifact),
};

static const struct vprop archive_ext[] = {
        P("contains_refs", VK_REF, VF_REQ | VF_LIST, &t_file_dir),
        P("comment", VK_STRING, 0, NULL),
};
static const struct vtable vt_archive_ext = {"archive-ext", archive_ext, N(archive_ext), 0, NULL};

static const struct vprop alternate_data_stream[] = {
        P("name", VK_STRING, VF_REQ, NULL),
        P("hashes", VK_HASHES, 0, NULL),
        INT_NONNEG("size"),
};
static const struct vtable vt_alternate_data_stream = {
        "alternate-data-stream-type", alternate_data_stream, N(alternate_data_stream), 0, NULL};

static const struct vprop ntfs_ext[] = {
        P("sid", VK_STRING, 0, NULL),
        P("alternate_data_streams", VK_OBJECT, VF_LIST, &vt_alternate_data_stream),
};
static const struct vtable vt_ntfs_ext = {"ntfs-ext", ntfs_ext, N(ntfs_ext), VT_ONE_OF_OWN, NULL};

static const struct vprop pdf_ext[] = {
        P("version", VK_STRING, 0, NULL),
        P("is_optimized", VK_BOOL, 0, NULL),
        P("document_info_dict", VK_DICT_STR, 0, NULL),
        P("pdfid0", VK_STRING, 0, NULL),
        P("pdfid1", VK_STRING, 0, NULL),
};
static const struct vtable vt_pdf_ext = {"pdf-ext", pdf_ext, N(pdf_ext), VT_ONE_OF_OWN, NULL};

static const struct vprop raster_image_ext[] = {
        P("image_height", VK_INT, 0, NULL),
        P("image_width", VK_INT, 0, NULL),
        P("bits_per_pixel", VK_INT, 0, NULL),
        P("exif_tags", VK_DICT_INTSTR, 0, NULL),
};
static const struct vtable vt_raster_image_ext = {"raster-image-ext", raster_image_ext,
                                                  N(raster_image_ext), VT_ONE_OF_OWN, NULL};

static const struct vprop pe_optional_header[] = {
        P("magic_hex", VK_HEX, 0, NULL),
        P("major_linker_version", VK_INT, 0, NULL),
        P("minor_linker_version", VK_INT, 0, NULL),
        INT_NONNEG("size_of_code"),
        INT_NONNEG("size_of_initialized_data"),
        INT_NONNEG("size_of_uninitialized_data"),
        P("address_of_entry_point", VK_INT, 0, NULL),
        P("base_of_code", VK_INT, 0, NULL),
        P("base_of_data", VK_INT, 0, NULL),
        P("image_base", VK_INT, 0, NULL),
        P("section_alignment", VK_INT, 0, NULL),
        P("file_alignment", VK_INT, 0, NULL),
        P("major_os_version", VK_INT, 0, NULL),
        P("minor_os_version", VK_INT, 0, NULL),
        P("major_image_version", VK_INT, 0, NULL),
        P("minor_image_version", VK_INT, 0, NULL),
        P("major_subsystem_version", VK_INT, 0, NULL),
        P("minor_subsystem_version", VK_INT, 0, NULL),
        P("win32_version_value_hex", VK_HEX, 0, NULL),
        INT_NONNEG("size_of_image"),
        INT_NONNEG("size_of_headers"),
        P("checksum_hex", VK_HEX, 0, NULL),
        P("subsystem_hex", VK_HEX, 0, NULL),
        P("dll_characteristics_hex", VK_HEX, 0, NULL),
        INT_NONNEG("size_of_stack_reserve"),
        INT_NONNEG("size_of_stack_commit"),
        INT_NONNEG("size_of_heap_reserve"),
        INT_NONNEG("size_of_heap_commit"),
        P("loader_flags_hex", VK_HEX, 0, NULL),
        P("number_of_rva_and_sizes", VK_INT, 0, NULL),
        P("hashes", VK_HASHES, 0, NULL),
};
static const struct vtable vt_pe_optional_header = {"windows-pe-optional-header-type",
                                                    pe_optional_header, N(pe_optional_header),
                                                    VT_ONE_OF_OWN, NULL};

static const struct vprop pe_section[] = {
        P("name", VK_STRING, VF_REQ, NULL),
        INT_NONNEG("size"),
        P("entropy", VK_FLOAT, 0, NULL),
        P("hashes", VK_HASHES, 0, NULL),
};
static const struct vtable vt_pe_section = {"windows-pe-section-type", pe_section, N(pe_section), 0,
                                            NULL};

/* 6.7.6: at least one property besides the required pe_type */
static void check_pebinary(struct vctx *c, const struct vobj *o)
{
    if (o->nown == 1 && vget(o, "pe_type"))
        verr(c, "windows-pebinary-ext must have a property besides pe_type");
}

static const struct vprop pebinary_ext[] = {
        P("pe_type", VK_VOCAB, VF_REQ, NULL),
        P("imphash", VK_STRING, 0, NULL),
        P("machine_hex", VK_HEX, 0, NULL),
        INT_NONNEG("number_of_sections"),
        P("time_date_stamp", VK_TS_SEC, 0, NULL),
        P("pointer_to_symbol_table_hex", VK_HEX, 0, NULL),
        INT_NONNEG("number_of_symbols"),
        INT_NONNEG("size_of_optional_header"),
        P("characteristics_hex", VK_HEX, 0, NULL),
        P("file_header_hashes", VK_HASHES, 0, NULL),
        P("optional_header", VK_OBJECT, 0, &vt_pe_optional_header),
        P("sections", VK_OBJECT, VF_LIST, &vt_pe_section),
};
static const struct vtable vt_pebinary_ext = {"windows-pebinary-ext", pebinary_ext, N(pebinary_ext),
                                              0, check_pebinary};

/* --- 6.8 - 6.11 ------------------------------------------------------------------------ */

static const struct vprop ipv4_addr[] = {
        P("value", VK_IPV4, VF_REQ, NULL),
        P("resolves_to_refs", VK_REF, VF_LIST, &t_mac),
        P("belongs_to_refs", VK_REF, VF_LIST, &t_as),
};

static const struct vprop ipv6_addr[] = {
        P("value", VK_IPV6, VF_REQ, NULL),
        P("resolves_to_refs", VK_REF, VF_LIST, &t_mac),
        P("belongs_to_refs", VK_REF, VF_LIST, &t_as),
};

static const struct vprop mac_addr[] = {P("value", VK_MAC, VF_REQ, NULL)};

static const struct vprop mutex[] = {P("name", VK_STRING, VF_REQ, NULL)};

/* --- 6.12 network-traffic and its extensions ---------------------------------------------- */

static void check_network_traffic(struct vctx *c, const struct vobj *o)
{
    uint32_t active = vget(o, "is_active");

    if (!vget(o, "src_ref") && !vget(o, "dst_ref"))
        verr(c, "a network-traffic must have src_ref or dst_ref");
    if (active && kzj_type(c->d, active) == KZJ_TRUE && vget(o, "end"))
        verr_at(c, "end", "must not be present when is_active is true");
    vcheck_order(c, o, "start", "end", 0);
}

static const struct vprop network_traffic[] = {
        P("start", VK_TS, 0, NULL),
        P("end", VK_TS, 0, NULL),
        P("is_active", VK_BOOL, 0, NULL),
        P("src_ref", VK_REF, 0, &t_net_end),
        P("dst_ref", VK_REF, 0, &t_net_end),
        PR("src_port", VK_INT, 0, NULL, 0, 65535),
        PR("dst_port", VK_INT, 0, NULL, 0, 65535),
        P("protocols", VK_STRING, VF_REQ | VF_LIST, NULL),
        INT_NONNEG("src_byte_count"),
        INT_NONNEG("dst_byte_count"),
        INT_NONNEG("src_packets"),
        INT_NONNEG("dst_packets"),
        P("ipfix", VK_DICT_INTSTR, 0, NULL),
        P("src_payload_ref", VK_REF, 0, &t_artifact),
        P("dst_payload_ref", VK_REF, 0, &t_artifact),
        P("encapsulates_refs", VK_REF, VF_LIST, &t_traffic),
        P("encapsulated_by_ref", VK_REF, 0, &t_traffic),
};

static const struct vprop http_request_ext[] = {
        P("request_method", VK_STRING, VF_REQ, NULL),
        P("request_value", VK_STRING, VF_REQ, NULL),
        P("request_version", VK_STRING, 0, NULL),
        P("request_header", VK_DICT_STRS, 0, NULL),
        P("message_body_length", VK_INT, 0, NULL),
        P("message_body_data_ref", VK_REF, 0, &t_artifact),
};
static const struct vtable vt_http_request_ext = {"http-request-ext", http_request_ext,
                                                  N(http_request_ext), 0, NULL};

static const struct vprop icmp_ext[] = {
        P("icmp_type_hex", VK_HEX, VF_REQ, NULL),
        P("icmp_code_hex", VK_HEX, VF_REQ, NULL),
};
static const struct vtable vt_icmp_ext = {"icmp-ext", icmp_ext, N(icmp_ext), 0, NULL};

static const struct vprop socket_ext[] = {
        P("address_family", VK_ENUM, VF_REQ, address_family_enum),
        P("is_blocking", VK_BOOL, 0, NULL),
        P("is_listening", VK_BOOL, 0, NULL),
        P("options", VK_DICT_INT, 0, NULL),
        P("socket_type", VK_ENUM, 0, socket_type_enum),
        INT_NONNEG("socket_descriptor"),
        P("socket_handle", VK_INT, 0, NULL),
};
static const struct vtable vt_socket_ext = {"socket-ext", socket_ext, N(socket_ext), 0, NULL};

static const struct vprop tcp_ext[] = {
        P("src_flags_hex", VK_HEX, 0, NULL),
        P("dst_flags_hex", VK_HEX, 0, NULL),
};
static const struct vtable vt_tcp_ext = {"tcp-ext", tcp_ext, N(tcp_ext), VT_ONE_OF_OWN, NULL};

/* --- 6.13 process and its extensions ------------------------------------------------------ */

/* 6.13: at least one property of its own or one extension. */
static void check_process(struct vctx *c, const struct vobj *o)
{
    if (o->nown == 0 && !vget(o, "extensions"))
        verr(c, "a process must have at least one process property or extension");
}

static const struct vprop process[] = {
        P("is_hidden", VK_BOOL, 0, NULL),
        P("pid", VK_INT, 0, NULL),
        P("created_time", VK_TS, 0, NULL),
        P("cwd", VK_STRING, 0, NULL),
        P("command_line", VK_STRING, 0, NULL),
        P("environment_variables", VK_DICT_STR, 0, NULL),
        P("opened_connection_refs", VK_REF, VF_LIST, &t_traffic),
        P("creator_user_ref", VK_REF, 0, &t_user),
        P("image_ref", VK_REF, 0, &t_file),
        P("parent_ref", VK_REF, 0, &t_process),
        P("child_refs", VK_REF, VF_LIST, &t_process),
};

static const struct vprop windows_process_ext[] = {
        P("aslr_enabled", VK_BOOL, 0, NULL),
        P("dep_enabled", VK_BOOL, 0, NULL),
        P("priority", VK_STRING, 0, NULL),
        P("owner_sid", VK_STRING, 0, NULL),
        P("windows_title", VK_STRING, 0, NULL),
        P("startup_info", VK_DICT, 0, NULL),
        P("integrity_level", VK_ENUM, 0, integrity_level_enum),
};
static const struct vtable vt_windows_process_ext = {"windows-process-ext", windows_process_ext,
                                                     N(windows_process_ext), VT_ONE_OF_OWN, NULL};

static const struct vprop windows_service_ext[] = {
        P("service_name", VK_STRING, 0, NULL),
        P("descriptions", VK_STRING, VF_LIST, NULL),
        P("display_name", VK_STRING, 0, NULL),
        P("group_name", VK_STRING, 0, NULL),
        P("start_type", VK_ENUM, 0, service_start_enum),
        P("service_dll_refs", VK_REF, VF_LIST, &t_file),
        P("service_type", VK_ENUM, 0, service_type_enum),
        P("service_status", VK_ENUM, 0, service_status_enum),
};
static const struct vtable vt_windows_service_ext = {"windows-service-ext", windows_service_ext,
                                                     N(windows_service_ext), VT_ONE_OF_OWN, NULL};

/* --- 6.14 - 6.16 ----------------------------------------------------------------------------- */

static const struct vprop software[] = {
        P("name", VK_STRING, VF_REQ, NULL), P("cpe", VK_CPE, 0, NULL),
        P("swid", VK_STRING, 0, NULL),      P("languages", VK_LANG, VF_LIST, NULL),
        P("vendor", VK_STRING, 0, NULL),    P("version", VK_STRING, 0, NULL),
};

static const struct vprop url[] = {P("value", VK_URL, VF_REQ, NULL)};

static const struct vprop user_account[] = {
        P("user_id", VK_STRING, 0, NULL),         P("credential", VK_STRING, 0, NULL),
        P("account_login", VK_STRING, 0, NULL),   P("account_type", VK_VOCAB, 0, NULL),
        P("display_name", VK_STRING, 0, NULL),    P("is_service_account", VK_BOOL, 0, NULL),
        P("is_privileged", VK_BOOL, 0, NULL),     P("can_escalate_privs", VK_BOOL, 0, NULL),
        P("is_disabled", VK_BOOL, 0, NULL),       P("account_created", VK_TS, 0, NULL),
        P("account_expires", VK_TS, 0, NULL),     P("credential_last_changed", VK_TS, 0, NULL),
        P("account_first_login", VK_TS, 0, NULL), P("account_last_login", VK_TS, 0, NULL),
};

/* 6.16: at least one property, the extensions included */
static void check_user_account(struct vctx *c, const struct vobj *o)
{
    if (o->nown == 0 && !vget(o, "extensions"))
        verr(c, "a user-account must have at least one user-account property or extension");
}

static const struct vprop unix_account_ext[] = {
        P("gid", VK_INT, 0, NULL),
        P("groups", VK_STRING, VF_LIST, NULL),
        P("home_dir", VK_STRING, 0, NULL),
        P("shell", VK_STRING, 0, NULL),
};
static const struct vtable vt_unix_account_ext = {"unix-account-ext", unix_account_ext,
                                                  N(unix_account_ext), VT_ONE_OF_OWN, NULL};

/* --- 6.17 windows-registry-key ------------------------------------------------------------- */

/* The hive must be spelled out: HKEY_LOCAL_MACHINE, not HKLM. */
static void check_registry_key(struct vctx *c, const struct vobj *o)
{
    static const char *const abbrev[] = {"HKLM", "HKCU", "HKCR", "HKU", "HKCC", NULL};
    char tmp[64];
    const char *p;
    size_t n;
    uint32_t key = vget(o, "key");

    if (!key || kzj_type(c->d, key) != KZJ_STRING)
        return;
    if (kzj_str(c->d, key, tmp, sizeof(tmp), &p, &n) < 0)
        return;
    for (const char *const *a = abbrev; *a; a++) {
        size_t an = strlen(*a);
        if (n >= an && strncasecmp(p, *a, an) == 0 && (n == an || p[an] == '\\'))
            verr_at(c, "key",
                    "the hive must be fully expanded (e.g. HKEY_LOCAL_MACHINE, "
                    "not HKLM)");
    }
}

static const struct vprop registry_value[] = {
        P("name", VK_STRING, 0, NULL),
        P("data", VK_STRING, 0, NULL),
        P("data_type", VK_ENUM, 0, registry_datatype_enum),
};
static const struct vtable vt_registry_value = {"windows-registry-value-type", registry_value,
                                                N(registry_value), VT_ONE_OF_OWN, NULL};

static const struct vprop windows_registry_key[] = {
        P("key", VK_STRING, 0, NULL),
        P("values", VK_OBJECT, VF_LIST, &vt_registry_value),
        P("modified_time", VK_TS, 0, NULL),
        P("creator_user_ref", VK_REF, 0, &t_user),
        P("number_of_subkeys", VK_INT, 0, NULL),
};

/* --- 6.18 x509-certificate -------------------------------------------------------------------- */

static const struct vprop x509_v3_extensions[] = {
        P("basic_constraints", VK_STRING, 0, NULL),
        P("name_constraints", VK_STRING, 0, NULL),
        P("policy_constraints", VK_STRING, 0, NULL),
        P("key_usage", VK_STRING, 0, NULL),
        P("extended_key_usage", VK_STRING, 0, NULL),
        P("subject_key_identifier", VK_STRING, 0, NULL),
        P("authority_key_identifier", VK_STRING, 0, NULL),
        P("subject_alternative_name", VK_STRING, 0, NULL),
        P("issuer_alternative_name", VK_STRING, 0, NULL),
        P("subject_directory_attributes", VK_STRING, 0, NULL),
        P("crl_distribution_points", VK_STRING, 0, NULL),
        P("inhibit_any_policy", VK_STRING, 0, NULL),
        P("private_key_usage_period_not_before", VK_TS, 0, NULL),
        P("private_key_usage_period_not_after", VK_TS, 0, NULL),
        P("certificate_policies", VK_STRING, 0, NULL),
        P("policy_mappings", VK_STRING, 0, NULL),
};
static const struct vtable vt_x509_v3_extensions = {"x509-v3-extensions-type", x509_v3_extensions,
                                                    N(x509_v3_extensions), VT_ONE_OF_OWN, NULL};

static const struct vprop x509_certificate[] = {
        P("is_self_signed", VK_BOOL, 0, NULL),
        P("hashes", VK_HASHES, 0, NULL),
        P("version", VK_STRING, 0, NULL),
        P("serial_number", VK_STRING, 0, NULL),
        P("signature_algorithm", VK_STRING, 0, NULL),
        P("issuer", VK_STRING, 0, NULL),
        P("validity_not_before", VK_TS, 0, NULL),
        P("validity_not_after", VK_TS, 0, NULL),
        P("subject", VK_STRING, 0, NULL),
        P("subject_public_key_algorithm", VK_STRING, 0, NULL),
        P("subject_public_key_modulus", VK_STRING, 0, NULL),
        P("subject_public_key_exponent", VK_INT, 0, NULL),
        P("x509_v3_extensions", VK_OBJECT, 0, &vt_x509_v3_extensions),
};

/* --- the registry ------------------------------------------------------------------------------
 */

#define T(name, props, flags, check)                                                               \
    {                                                                                              \
        name, STIX_SCO,                                                                            \
        {                                                                                          \
            name, props, N(props), flags, check                                                    \
        }                                                                                          \
    }

const struct vtype vtypes_sco[] = {
        T("artifact", artifact, 0, check_artifact),
        T("autonomous-system", autonomous_system, 0, NULL),
        T("directory", directory, 0, NULL),
        T("domain-name", domain_name, 0, NULL),
        T("email-addr", email_addr, 0, NULL),
        T("email-message", email_message, 0, check_email_message),
        T("file", file, 0, check_file),
        T("ipv4-addr", ipv4_addr, 0, NULL),
        T("ipv6-addr", ipv6_addr, 0, NULL),
        T("mac-addr", mac_addr, 0, NULL),
        T("mutex", mutex, 0, NULL),
        T("network-traffic", network_traffic, 0, check_network_traffic),
        T("process", process, 0, check_process),
        T("software", software, 0, NULL),
        T("url", url, 0, NULL),
        T("user-account", user_account, 0, check_user_account),
        T("windows-registry-key", windows_registry_key, VT_ONE_OF_OWN, check_registry_key),
        T("x509-certificate", x509_certificate, VT_ONE_OF_OWN, NULL),
};
const unsigned nvtypes_sco = N(vtypes_sco);

const struct vext vexts[] = {
        {"archive-ext", "file", &vt_archive_ext},
        {"ntfs-ext", "file", &vt_ntfs_ext},
        {"pdf-ext", "file", &vt_pdf_ext},
        {"raster-image-ext", "file", &vt_raster_image_ext},
        {"windows-pebinary-ext", "file", &vt_pebinary_ext},
        {"http-request-ext", "network-traffic", &vt_http_request_ext},
        {"icmp-ext", "network-traffic", &vt_icmp_ext},
        {"socket-ext", "network-traffic", &vt_socket_ext},
        {"tcp-ext", "network-traffic", &vt_tcp_ext},
        {"windows-process-ext", "process", &vt_windows_process_ext},
        {"windows-service-ext", "process", &vt_windows_service_ext},
        {"unix-account-ext", "user-account", &vt_unix_account_ext},
};
const unsigned nvexts = N(vexts);
