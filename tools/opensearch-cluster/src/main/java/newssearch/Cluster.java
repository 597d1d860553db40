package newssearch;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Starts real OpenSearch nodes, HTTP and transport on loopback, forming one
 * cluster of N nodes (default 2); prints "READY <http ports>" and runs until
 * killed.  Usage: Cluster <data dir> <first http port> [nodes] [node number]
 * With a node number, this JVM runs only that node (scripts/opensearch runs
 * one JVM per node, so that a test can stop one node and start it again);
 * without, all N nodes run in this JVM.
 */
public final class Cluster {
    /** A node with the given plugins loaded from the classpath (no plugins directory). */
    static final class LauncherNode extends Node {
        LauncherNode(Settings settings, Collection<Class<? extends Plugin>> plugins) {
            super(InternalSettingsPreparer.prepareEnvironment(settings, Collections.emptyMap(), null, () -> "node"),
                  plugins, true);
        }
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]).toAbsolutePath();
        int httpBase = Integer.parseInt(args[1]);
        int count = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        int only = args.length > 3 ? Integer.parseInt(args[3]) : -1;
        int transportBase = httpBase + 100;
        List<String> seeds = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            seeds.add("127.0.0.1:" + (transportBase + i));
            names.add("node-" + i);
        }
        List<Class<? extends Plugin>> plugins = List.of(Netty4Plugin.class, CommonAnalysisPlugin.class);
        List<Node> nodes = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            if (only >= 0 && i != only) continue;
            Path home = dir.resolve("node-" + i);
            Files.createDirectories(home);
            Settings settings = Settings.builder()
                .put("cluster.name", "news-search-test")
                .put("node.name", names.get(i))
                .put("path.home", home.toString())
                .put("path.data", home.resolve("data").toString())
                .put("network.host", "127.0.0.1")
                .put("http.port", httpBase + i)
                .put("transport.port", transportBase + i)
                .put("http.type", "netty4")
                .put("transport.type", "netty4")
                .putList("discovery.seed_hosts", seeds)
                .putList("cluster.initial_cluster_manager_nodes", names)
                .put("cluster.routing.allocation.disk.threshold_enabled", false)
                // Proximity operators look terms up inside words with span_multi
                // wildcards (*香港*); a frequent piece expands to thousands of
                // words (the default limit is 1024).  See README "OpenSearch".
                .put("indices.query.bool.max_clause_count", 65536)
                .build();
            Node node = new LauncherNode(settings, plugins);
            node.start();
            nodes.add(node);
        }
        StringBuilder ports = new StringBuilder();
        for (int i = 0; i < count; i++) {
            if (only >= 0 && i != only) continue;
            ports.append(ports.length() == 0 ? "" : ",").append(httpBase + i);
        }
        System.out.println("READY " + ports);
        System.out.flush();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (Node n : nodes) {
                try { n.close(); } catch (Exception e) { /* shutting down */ }
            }
        }));
        Thread.currentThread().join();
    }
}
