/*
 * A DTLS 1.2 TLS_ECJPAKE_WITH_AES_128_CCM_8 peer built on Mbed TLS (the library OpenThread uses),
 * for interoperability tests of meshcop::dtls. Loopback UDP only.
 *
 *   mbedtls_peer server PORT PASSWORD   -- accepts one client (HelloVerifyRequest cookies on),
 *                                          echoes one message back with "echo: " in front
 *   mbedtls_peer client PORT PASSWORD   -- connects, sends "hello from mbedtls", prints the reply
 *
 * On a failed handshake it sends the fatal alert OpenThread's SecureTransport sends (bad_record_mac
 * for MBEDTLS_ERR_SSL_INVALID_MAC, else handshake_failure).
 * Prints "KEYBLOCK <80 hex>" (PRF(master, "key expansion", server_random || client_random)[40]),
 * "HANDSHAKE OK" or "HANDSHAKE FAILED -0x....", and "RECV <text>". Exit status 0 on success.
 * Build: see build.sh beside this file.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "mbedtls/ssl.h"
#include "mbedtls/net_sockets.h"
#include "mbedtls/entropy.h"
#include "mbedtls/ctr_drbg.h"
#include "mbedtls/ssl_cookie.h"
#include "mbedtls/timing.h"
#include "mbedtls/error.h"
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include "psa/crypto.h"
#endif

static void export_keys(void *ctx, mbedtls_ssl_key_export_type type, const unsigned char *secret,
                        size_t secret_len, const unsigned char client_random[32],
                        const unsigned char server_random[32], mbedtls_tls_prf_types prf)
{
    (void) ctx;
    if (type != MBEDTLS_SSL_KEY_EXPORT_TLS12_MASTER_SECRET) return;
    unsigned char seed[64], kb[40];
    memcpy(seed, server_random, 32);
    memcpy(seed + 32, client_random, 32);
    if (mbedtls_ssl_tls_prf(prf, secret, secret_len, "key expansion", seed, 64, kb, 40) != 0) return;
    printf("KEYBLOCK ");
    for (int i = 0; i < 40; i++) printf("%02x", kb[i]);
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 4) { fprintf(stderr, "usage: %s server|client PORT PASSWORD\n", argv[0]); return 2; }
    int is_server = strcmp(argv[1], "server") == 0;
    const char *port = argv[2], *pw = argv[3];
    static const int suites[] = { MBEDTLS_TLS_ECJPAKE_WITH_AES_128_CCM_8, 0 };
    mbedtls_net_context listen_fd, fd;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_cookie_ctx cookie;
    mbedtls_timing_delay_context timer;
    unsigned char buf[1024];
    char err[128];
    int ret;

#if defined(MBEDTLS_PSA_CRYPTO_C)
    psa_crypto_init();
#endif
    mbedtls_net_init(&listen_fd); mbedtls_net_init(&fd);
    mbedtls_ssl_init(&ssl); mbedtls_ssl_config_init(&conf);
    mbedtls_entropy_init(&entropy); mbedtls_ctr_drbg_init(&drbg);
    mbedtls_ssl_cookie_init(&cookie);
    if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0) return 1;
    mbedtls_ssl_config_defaults(&conf, is_server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                MBEDTLS_SSL_TRANSPORT_DATAGRAM, MBEDTLS_SSL_PRESET_DEFAULT);
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
    mbedtls_ssl_conf_ciphersuites(&conf, suites);
    mbedtls_ssl_conf_min_tls_version(&conf, MBEDTLS_SSL_VERSION_TLS1_2);
    mbedtls_ssl_conf_max_tls_version(&conf, MBEDTLS_SSL_VERSION_TLS1_2);
    mbedtls_ssl_conf_handshake_timeout(&conf, 1000, 8000);
    if (is_server) {
        mbedtls_ssl_cookie_setup(&cookie, mbedtls_ctr_drbg_random, &drbg);
        mbedtls_ssl_conf_dtls_cookies(&conf, mbedtls_ssl_cookie_write, mbedtls_ssl_cookie_check, &cookie);
    }
    if ((ret = mbedtls_ssl_setup(&ssl, &conf)) != 0) return 1;
    mbedtls_ssl_set_export_keys_cb(&ssl, export_keys, NULL);
    mbedtls_ssl_set_timer_cb(&ssl, &timer, mbedtls_timing_set_delay, mbedtls_timing_get_delay);

    if (is_server) {
        if (mbedtls_net_bind(&listen_fd, "127.0.0.1", port, MBEDTLS_NET_PROTO_UDP) != 0) return 1;
        printf("LISTENING\n"); fflush(stdout);
    reset:
        mbedtls_net_free(&fd);
        mbedtls_ssl_session_reset(&ssl);
        mbedtls_ssl_set_hs_ecjpake_password(&ssl, (const unsigned char *) pw, strlen(pw));
        unsigned char ip[16]; size_t iplen;
        if (mbedtls_net_accept(&listen_fd, &fd, ip, sizeof ip, &iplen) != 0) return 1;
        mbedtls_ssl_set_client_transport_id(&ssl, ip, iplen);
    } else {
        if (mbedtls_net_connect(&fd, "127.0.0.1", port, MBEDTLS_NET_PROTO_UDP) != 0) return 1;
        mbedtls_ssl_set_hs_ecjpake_password(&ssl, (const unsigned char *) pw, strlen(pw));
    }
    mbedtls_ssl_set_bio(&ssl, &fd, mbedtls_net_send, mbedtls_net_recv, mbedtls_net_recv_timeout);
    mbedtls_ssl_conf_read_timeout(&conf, 20000);
    do { ret = mbedtls_ssl_handshake(&ssl); }
    while (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE);
    if (is_server && ret == MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED) goto reset;
    if (ret != 0) {
        /* As OpenThread's SecureTransport does on a failed handshake (secure_transport.cpp). */
        mbedtls_ssl_send_alert_message(&ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                       ret == MBEDTLS_ERR_SSL_INVALID_MAC ? MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC
                                                                          : MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
        mbedtls_strerror(ret, err, sizeof err);
        printf("HANDSHAKE FAILED -0x%04x %s\n", (unsigned) -ret, err);
        return 1;
    }
    printf("HANDSHAKE OK %s\n", mbedtls_ssl_get_ciphersuite(&ssl)); fflush(stdout);
    if (!is_server) {
        const char *msg = "hello from mbedtls";
        mbedtls_ssl_write(&ssl, (const unsigned char *) msg, strlen(msg));
    }
    do { ret = mbedtls_ssl_read(&ssl, buf, sizeof buf - 1); }
    while (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE);
    if (ret <= 0) { printf("READ FAILED -0x%04x\n", (unsigned) -ret); return 1; }
    buf[ret] = 0;
    printf("RECV %s\n", buf); fflush(stdout);
    if (is_server) {
        unsigned char out[1100];
        int n = snprintf((char *) out, sizeof out, "echo: %s", buf);
        mbedtls_ssl_write(&ssl, out, (size_t) n);
    }
    mbedtls_ssl_close_notify(&ssl);
    return 0;
}
