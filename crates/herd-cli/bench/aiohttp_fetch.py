"""The guides' rate-limited scraper, as people write it: aiohttp, a
semaphore of N, one session, every URL's outcome counted. herd fetch's
benchmark peer (crates/herd-cli/bench/fetch.sh)."""
import asyncio
import sys

import aiohttp


async def fetch(session, semaphore, url, counts):
    async with semaphore:
        try:
            async with session.get(url) as response:
                await response.read()
                key = "ok" if response.status < 300 else f"http_{response.status}"
        except Exception as error:  # noqa: BLE001 - the benchmark counts every outcome
            key = type(error).__name__
        counts[key] = counts.get(key, 0) + 1


async def main(path, concurrency):
    with open(path) as lines:
        urls = [line.strip() for line in lines if line.strip()]
    semaphore = asyncio.Semaphore(concurrency)
    counts = {}
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(fetch(session, semaphore, url, counts) for url in urls))
    print(counts, file=sys.stderr)
    if counts.get("ok", 0) != len(urls):
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
