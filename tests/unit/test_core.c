// SPDX-License-Identifier: MIT
/*
 * The datapath resolves its programs' CO-RE relocations against the BPF
 * object's own BTF, not the kernel's (user/datapath/load.c,
 * self_btf_path()): right only while every relocation is the byte offset
 * of a field of a UAPI context, struct xdp_md or struct __sk_buff, whose
 * offsets are ABI.  This reads the relocations from the object's .BTF.ext
 * and fails on any other: a CO-RE read of a kernel-internal struct, or a
 * field-exists test (which the object's own BTF would always answer yes),
 * needs the kernel's BTF again.
 */
#include <criterion/criterion.h>

#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "xnsg/abi.h"
#include "xnsg.skel.h"

/* The .BTF.ext header (the kernel's tools/lib/bpf/libbpf_internal.h). */
struct ext_hdr {
	__u16 magic;
	__u8 version, flags;
	__u32 hdr_len;
	__u32 func_info_off, func_info_len, line_info_off, line_info_len;
	__u32 core_relo_off, core_relo_len;
};

struct core_relo {
	__u32 insn_off, type_id, access_str_off, kind;
};

enum { FIELD_BYTE_OFFSET = 0 }; /* BPF_CORE_FIELD_BYTE_OFFSET */

/* The bytes of the object's .BTF.ext section (libbpf 1.1 has no accessor). */
static const void *btf_ext_section(const void *elf, size_t size, __u32 *len)
{
	Elf *e;
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	elf_version(EV_CURRENT);
	e = elf_memory((char *)elf, size);
	cr_assert(e && !elf_getshdrstrndx(e, &shstrndx), "the object is an ELF file");
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".BTF.ext"))
			continue;
		d = elf_getdata(scn, NULL);
		cr_assert(d && d->d_buf, ".BTF.ext has data");
		*len = (__u32)d->d_size;
		return d->d_buf; /* inside elf: elf_memory does not copy */
	}
	cr_assert_fail("the object has a .BTF.ext section");
	return NULL;
}

Test(core, relocations_are_uapi_context_offsets)
{
	size_t size;
	const void *elf = xnsg__elf_bytes(&size);
	int fd = memfd_create("test-core", MFD_CLOEXEC);
	const struct ext_hdr *h;
	const char *p, *end;
	char path[64];
	struct btf *btf;
	__u32 ext_size, rec_size;
	int n = 0;

	cr_assert(fd >= 0, "memfd_create");
	cr_assert_eq(write(fd, elf, size), (ssize_t)size, "the object written to the memfd");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	btf = btf__parse_elf(path, NULL);
	cr_assert(btf, "the object has .BTF");
	h = btf_ext_section(elf, size, &ext_size);
	cr_assert(h->hdr_len >= sizeof(*h), ".BTF.ext has a CO-RE part (hdr_len %u)", h->hdr_len);
	p = (const char *)h + h->hdr_len + h->core_relo_off;
	end = p + h->core_relo_len;
	cr_assert_leq(end - (const char *)h, (long)ext_size, "the CO-RE part inside .BTF.ext");
	memcpy(&rec_size, p, 4);
	cr_assert_geq(rec_size, sizeof(struct core_relo), "CO-RE record size %u", rec_size);
	for (p += 4; p + 8 <= end;) {
		__u32 sec[2]; /* name offset, record count */

		memcpy(sec, p, sizeof(sec));
		p += sizeof(sec);
		for (__u32 i = 0; i < sec[1]; i++, p += rec_size, n++) {
			struct core_relo r;
			const struct btf_type *t;
			const char *name;

			cr_assert_leq(p + rec_size, end, "CO-RE record inside its part");
			memcpy(&r, p, sizeof(r));
			t = btf__type_by_id(btf, r.type_id);
			cr_assert(t, "relocation %d: type %u exists", n, r.type_id);
			name = btf__name_by_offset(btf, t->name_off);
			cr_assert(btf_is_struct(t) && name &&
					  (!strcmp(name, "xdp_md") || !strcmp(name, "__sk_buff")),
				  "section %s, insn %u: a CO-RE relocation of '%s', not of struct xdp_md or "
				  "struct __sk_buff, whose offsets the object's own BTF gets right on every "
				  "kernel (load.c, self_btf_path())",
				  btf__name_by_offset(btf, sec[0]), r.insn_off / 8, name ? name : "?");
			cr_assert_eq(r.kind, FIELD_BYTE_OFFSET,
				     "section %s, insn %u: CO-RE relocation of kind %u on %s, not a field "
				     "offset",
				     btf__name_by_offset(btf, sec[0]), r.insn_off / 8, r.kind, name);
		}
	}
	cr_assert_gt(n, 0, "the programs read their contexts through CO-RE relocations");
	btf__free(btf);
	close(fd);
}
