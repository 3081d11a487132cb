/* `paraprop inspect FILE`: what a checkpoint, model or dataset file holds, and its validity. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "paraprop/checkpoint.h"
#include "paraprop/dataset.h"
#include "paraprop/seal.h"

/* The "seal:" line; the header-only check is cheap (the bytes were verified already). */
static void print_seal(const char *path)
{
    pp_seal_info seal;
    pp_status st = pp_seal_check(path, 0, 0, &seal);
    if (st.code || !seal.sealed)
        printf("seal: none (no HDF5 user block: not written by paraprop, or rewritten by another "
               "tool): HDF5's own checks only\n");
    else
        printf("seal: verified (SHA-256 of every byte matches; %s)\n",
               seal.version == 1         ? "a version-1 seal of an older paraprop"
               : seal.damaged_copies > 0 ? "one of its two header copies is damaged, the other "
                                           "verified the file: 'paraprop seal' rewrites both"
                                         : "both header copies intact");
}

static int inspect_dataset(const char *path)
{
    pp_dataset_info info;
    /* reached only after pp_checkpoint_read verified every byte against the seal and then
     * found a dataset */
    pp_status st = pp_dataset_probe(path, &info);
    if (st.code) return -1;
    printf("file: %s\nformat: paraprop-dataset, version 1\nsource: %s\n", path, info.source);
    printf("train: %zu samples × %zu inputs (%s), %s %zu\n", info.n_train, info.d,
           info.bytes ? "uint8 with scale" : "float32",
           info.labelled ? "labels, classes" : "targets, width", info.k);
    if (info.has_test) printf("test: %zu samples\n", info.n_test);
    print_seal(path);
    return 0;
}

static const char *const USAGE =
    "usage: paraprop inspect [--allow-unsealed on|off] FILE.h5\n"
    "Prints format, version, architecture, position (epoch/step, samples seen),\n"
    "configuration, validity (seal, format, complete, checksums, fingerprint) and the\n"
    "SHA-256 fingerprint of the parameters. Exit status 3 when the file is invalid.\n"
    "  --allow-unsealed on   also read a checkpoint that carries no seal (refused otherwise:\n"
    "                        paraprop seals every checkpoint it writes)\n";

int cmd_inspect(int argc, char **argv)
{
    int allow_unsealed = 0, first = 2;
    if (argc == 5 && strcmp(argv[2], "--allow-unsealed") == 0 &&
        (strcmp(argv[3], "on") == 0 || strcmp(argv[3], "off") == 0)) {
        allow_unsealed = strcmp(argv[3], "on") == 0;
        first = 4;
    }
    if (argc != first + 1 || strcmp(argv[first], "--help") == 0) {
        int help = argc == first + 1;
        fputs(USAGE, help ? stdout : stderr);
        return help ? 0 : 2;
    }
    const char *path = argv[first];
    pp_checkpoint ck;
    pp_status st = pp_checkpoint_read(path, allow_unsealed, &ck);
    if (st.code) {
        /* a dataset, perhaps an unsealed one from another tool (those are accepted) */
        if ((strstr(st.msg, "'paraprop-dataset'") || strstr(st.msg, "carries no seal")) &&
            inspect_dataset(path) == 0)
            return 0;
        printf("file: %s\nvalid: no\nreason: %s\n", path, st.msg);
        return pp_code_exit_status(st.code);
    }
    const pp_arch *a = &ck.arch;
    printf("file: %s\nformat: %s, version %d (written by paraprop %s at %s, %s)\n", path,
           PP_CHECKPOINT_FORMAT, PP_CHECKPOINT_VERSION, ck.paraprop_version, ck.created_utc,
           ck.precision);
    if (ck.unchecksummed)
        printf("valid: yes (complete, fingerprint matches; %zu dataset(s) carry no fletcher32 "
               "checksum, e.g. after h5repack)\n",
               ck.unchecksummed);
    else
        printf("valid: yes (complete, checksums verified, fingerprint matches)\n");
    print_seal(path);
    printf("architecture: ");
    for (int l = 0; l <= a->L; l++) printf("%s%zu", l ? "," : "", a->n[l]);
    printf("  hidden %s, output %s, cost %s, %zu parameters\n", pp_activation_name(a->hidden),
           pp_activation_name(a->output), pp_cost_name(a->cost), a->nparams);
    printf("position: %lld epochs completed, step %lld of the next, global step %lld, %lld "
           "samples seen\n",
           (long long)ck.epoch, (long long)ck.step, (long long)ck.global_step,
           (long long)ck.samples_seen);
    printf("run: seed %llu, batch %lld, reduction %s, written with %lld rank(s) × %lld "
           "thread(s), %.1f s of training\n",
           (unsigned long long)ck.seed, (long long)ck.batch_size, ck.reduction, (long long)ck.ranks,
           (long long)ck.threads, ck.elapsed);
    printf("data: %s (%lld samples × %lld inputs, %lld outputs)\n", ck.data_path,
           (long long)ck.data_samples, (long long)ck.data_inputs, (long long)ck.data_outputs);
    printf("optimizer: %s, %lld step(s); state: %s\n", ck.optimizer, (long long)ck.optimizer_t,
           ck.adam_m     ? "first and second moments (/optimizer/m, /optimizer/v)"
           : ck.velocity ? "momentum velocity"
                         : "none (plain SGD)");
    if (ck.nmetrics) {
        const pp_metrics_row *r = &ck.metrics[ck.nmetrics - 1];
        printf("last epoch %lld: train_loss %.4f", (long long)r->epoch, r->train_loss);
        if (r->test_accuracy >= 0)
            printf(", test_loss %.4f, test_accuracy %.4f", r->test_loss, r->test_accuracy);
        if (r->val_accuracy >= 0)
            printf(", val_loss %.4f, val_accuracy %.4f", r->val_loss, r->val_accuracy);
        if (r->lr >= 0) printf(", lr %.6g", r->lr);
        printf("\n");
    }
    if (ck.has_state) {
        const pp_train_state *ts = &ck.state;
        printf("training state: plateau lr %.17g (count %lld), ", ts->lr,
               (long long)ts->plateau_count);
        if (ts->best_epoch > 0)
            printf("best %.17g at epoch %lld, %lld epoch(s) since", ts->best_metric,
                   (long long)ts->best_epoch, (long long)ts->patience_count);
        else
            printf("no best yet");
        printf("%s\n", ts->stopped == 1   ? ", ended by --early-stop"
                       : ts->stopped == 2 ? ", ended at the plateau schedule's floor"
                                          : "");
    }
    printf("fingerprint: %s\nconfig:\n", ck.fingerprint);
    for (const char *p = ck.config; p && *p;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        printf("  %.*s\n", len, p);
        p += len + (nl ? 1 : 0);
    }
    pp_checkpoint_free(&ck);
    return 0;
}
