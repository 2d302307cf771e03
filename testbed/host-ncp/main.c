/*
 * ot-host-ncp: OpenThread's NCP on the host, over a radio-only co-processor (ot-rcp).
 *
 *   ot-host-ncp [-d LEVEL] [-l LOGFILE] [-s DIR] RADIO-URL...
 *
 * RADIO-URL is OpenThread's POSIX radio URL (spinel+hdlc+uart:///dev/ttyACM0?uart-baudrate=460800,
 * spinel+hdlc+forkpty:///path/to/ot-rcp?forkpty-arg=1, ...). NCP Spinel/HDLC frames are read from
 * stdin and written to stdout, as the NCP firmware does on its UART; nothing else is written
 * there: OpenThread's logs go to syslog (or to LOGFILE with -l), and stdout/stderr are otherwise
 * pointed at /dev/null (or LOGFILE) so that a stray printf cannot corrupt the Spinel stream.
 * The NCP's settings (OpenThread's POSIX settings file) are kept in ./tmp/ of the working
 * directory, or of DIR with -s (the program changes to DIR first: give absolute paths).
 * A Spinel RESET re-executes the program (as the simulated NCP does), with the original stdin and
 * stdout. See docs/rcp.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <termios.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <openthread/instance.h>
#include <openthread/logging.h>
#include <openthread/ncp.h>
#include <openthread/openthread-system.h>
#include <openthread/tasklet.h>
#include <openthread/platform/misc.h>
#include <openthread/platform/radio.h>

#define OT_ARRAY_LENGTH(a) (sizeof(a) / sizeof((a)[0]))

static int    sInFd  = -1;
static int    sOutFd = -1;
static int    sErrFd = -1;
static bool   sSendDonePending;
static char **sArgv;

static void makeRaw(int aFd)
{
    struct termios tios;

    if (isatty(aFd) && tcgetattr(aFd, &tios) == 0)
    {
        cfmakeraw(&tios);
        tios.c_oflag = 0;
        tios.c_cflag |= HUPCL | CREAD | CLOCAL;
        tios.c_cc[VMIN]  = 1;
        tios.c_cc[VTIME] = 0;
        tcsetattr(aFd, TCSANOW, &tios);
    }
}

/* Writes the whole frame (stdout is blocking); the NCP is told it is sent from the main loop. */
static int ncpSend(const uint8_t *aBuf, uint16_t aLength)
{
    uint16_t done = 0;

    while (done < aLength)
    {
        ssize_t n = write(sOutFd, aBuf + done, aLength - done);

        if (n < 0 && errno == EINTR)
        {
            continue;
        }
        if (n <= 0)
        {
            syslog(LOG_ERR, "ot-host-ncp: writing to the host failed: %s", strerror(errno));
            exit(EXIT_FAILURE);
        }
        done += (uint16_t)n;
    }
    sSendDonePending = true;
    return aLength;
}

/* Spinel RESET (otInstanceReset): tear the platform down (the RCP child exits when its pty
 * closes) and start again from scratch with the original stdin/stdout/stderr. */
void otPlatReset(otInstance *aInstance)
{
    (void)aInstance;
    otSysDeinit();
    dup2(sInFd, STDIN_FILENO);
    dup2(sOutFd, STDOUT_FILENO);
    dup2(sErrFd, STDERR_FILENO);
    execv("/proc/self/exe", sArgv);
    syslog(LOG_ERR, "ot-host-ncp: re-exec failed: %s", strerror(errno));
    exit(EXIT_FAILURE);
}

void otTaskletsSignalPending(otInstance *aInstance) { (void)aInstance; }

static void usage(const char *aProgram)
{
    fprintf(stderr, "usage: %s [-d LOG-LEVEL] [-l LOG-FILE] [-s SETTINGS-DIR] RADIO-URL...\n", aProgram);
    exit(EXIT_FAILURE);
}

static void redirectStdio(const char *aLogFile)
{
    int sink = open(aLogFile != NULL ? aLogFile : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);

    if (sink < 0)
    {
        perror("ot-host-ncp: log file");
        exit(EXIT_FAILURE);
    }
    dup2(sink, STDOUT_FILENO);
    dup2(sink, STDERR_FILENO);
    close(sink);
}

int main(int argc, char *argv[])
{
    otPlatformConfig config;
    otInstance      *instance;
    const char      *logFile  = NULL;
    const char      *dir      = NULL;
    int              logLevel = OT_LOG_LEVEL_CRIT;
    int              opt;

#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGHUP);
#endif
    sArgv = argv;
    memset(&config, 0, sizeof(config));
    config.mSpeedUpFactor = 1;

    while ((opt = getopt(argc, argv, "d:l:s:")) != -1)
    {
        switch (opt)
        {
        case 'd':
            logLevel = atoi(optarg);
            break;
        case 'l':
            logFile = optarg;
            break;
        case 's':
            dir = optarg;
            break;
        default:
            usage(argv[0]);
        }
    }
    for (; optind < argc; optind++)
    {
        if (config.mCoprocessorUrls.mNum >= OT_ARRAY_LENGTH(config.mCoprocessorUrls.mUrls))
        {
            usage(argv[0]);
        }
        config.mCoprocessorUrls.mUrls[config.mCoprocessorUrls.mNum++] = argv[optind];
    }
    if (config.mCoprocessorUrls.mNum == 0)
    {
        usage(argv[0]);
    }

    /* The Spinel stream keeps the original descriptors, close-on-exec so that the RCP child does
     * not inherit them; otPlatReset puts them back as 0, 1 and 2 before a RESET's exec. */
    sInFd  = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
    sOutFd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    sErrFd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (sInFd < 0 || sOutFd < 0 || sErrFd < 0)
    {
        perror("ot-host-ncp: dup");
        return EXIT_FAILURE;
    }
    makeRaw(sInFd);
    makeRaw(sOutFd);
    signal(SIGPIPE, SIG_DFL);
    redirectStdio(logFile);
    if (dir != NULL && chdir(dir) != 0)
    {
        fprintf(stderr, "ot-host-ncp: settings directory %s: %s\n", dir, strerror(errno));
        dprintf(sErrFd, "ot-host-ncp: settings directory %s: %s\n", dir, strerror(errno));
        return EXIT_FAILURE;
    }
    openlog("ot-host-ncp", LOG_PID | (logFile != NULL ? LOG_PERROR : 0), LOG_DAEMON);

    instance = otSysInit(&config);
    if (instance == NULL || config.mCoprocessorType != OT_COPROCESSOR_RCP)
    {
        syslog(LOG_ERR, "ot-host-ncp: the radio is not an RCP");
        return EXIT_FAILURE;
    }
    (void)otLoggingSetLevel((otLogLevel)logLevel);
    syslog(LOG_INFO, "ot-host-ncp: %s, RCP %s", otGetVersionString(), otPlatRadioGetVersionString(instance));

    otNcpHdlcInit(instance, ncpSend);

    while (true)
    {
        otSysMainloopContext mainloop;

        otTaskletsProcess(instance);
        if (sSendDonePending)
        {
            sSendDonePending = false;
            otNcpHdlcSendDone();
            continue;
        }

        FD_ZERO(&mainloop.mReadFdSet);
        FD_ZERO(&mainloop.mWriteFdSet);
        FD_ZERO(&mainloop.mErrorFdSet);
        mainloop.mMaxFd           = sInFd;
        mainloop.mTimeout.tv_sec  = 10;
        mainloop.mTimeout.tv_usec = 0;
        FD_SET(sInFd, &mainloop.mReadFdSet);
        FD_SET(sInFd, &mainloop.mErrorFdSet);

        otSysMainloopUpdate(instance, &mainloop);
        if (otTaskletsArePending(instance))
        {
            mainloop.mTimeout.tv_sec  = 0;
            mainloop.mTimeout.tv_usec = 0;
        }

        if (otSysMainloopPoll(&mainloop) >= 0)
        {
            otSysMainloopProcess(instance, &mainloop);
            if (FD_ISSET(sInFd, &mainloop.mReadFdSet) || FD_ISSET(sInFd, &mainloop.mErrorFdSet))
            {
                uint8_t buf[1024];
                ssize_t n = read(sInFd, buf, sizeof(buf));

                if (n > 0)
                {
                    otNcpHdlcReceive(buf, (uint16_t)n);
                }
                else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                {
                    syslog(LOG_INFO, "ot-host-ncp: the host closed the stream, exiting");
                    break;
                }
            }
        }
        else if (errno != EINTR)
        {
            syslog(LOG_ERR, "ot-host-ncp: select: %s", strerror(errno));
            break;
        }
    }

    otSysDeinit();
    return EXIT_SUCCESS;
}
