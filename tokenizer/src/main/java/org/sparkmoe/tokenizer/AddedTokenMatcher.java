package org.sparkmoe.tokenizer;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds added tokens in text, leftmost-longest (as HF's added vocabulary does), with a character trie: at each
 * position one map lookup decides whether any token can start there.
 */
final class AddedTokenMatcher {

    private static final class Node {
        final Map<Character, Node> children = new HashMap<>(4);
        AddedToken token;
    }

    private final Node root = new Node();

    AddedTokenMatcher(List<AddedToken> tokens) {
        for (AddedToken t : tokens) {
            Node n = root;
            for (int i = 0; i < t.content().length(); i++) {
                n = n.children.computeIfAbsent(t.content().charAt(i), c -> new Node());
            }
            n.token = t;
        }
    }

    /** The longest added token starting at {@code pos}, or null. */
    AddedToken longestAt(String text, int pos) {
        Node n = root;
        AddedToken best = null;
        for (int i = pos; i < text.length(); i++) {
            n = n.children.get(text.charAt(i));
            if (n == null) {
                break;
            }
            if (n.token != null) {
                best = n.token;
            }
        }
        return best;
    }
}
