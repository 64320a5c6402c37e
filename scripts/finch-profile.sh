#!/bin/sh
# Write a Finch (or Pidgin) configuration directory with one Parley account and its buddies.
#
#   finch-profile.sh DIR NAME PORT PASSPHRASE BUDDY_ADDRESS BUDDY_ALIAS [PLUGIN_DIR] [PROTOCOL]
#                    [BUDDY_ADDRESS BUDDY_ALIAS]...
#
# PROTOCOL is parley (the default) or classic.  Each further pair adds a
# buddy.
# DIR gets accounts.xml, blist.xml, prefs.xml and plugins/ (a copy of the
# built plugins from PLUGIN_DIR, default: ./.libs).  The account signs on
# when Finch starts; the companion plugin "Parley" is enabled.  UPnP and
# NAT-PMP are off, so nothing leaves the machine on its own, and so is
# conversation logging, so no message text is written to disk.  Finch does
# not mark the account away when its user is idle (a test may type nothing
# for minutes).
#
# FINCH_CONV_SIZE=WIDTHxHEIGHT (optional): conversation windows open at the
# top left corner with this size, in character cells, covering the buddy
# list (tests/test-finch.sh: a whole 200x50 pane, so that a long
# conversation and the window in front can be read off the screen).
set -eu
dir=$1 name=$2 port=$3 pass=$4 buddy=$5 alias=$6
plugins=${7:-.libs}
protocol=${8:-parley}
shift 6
shift $(( $# < 2 ? $# : 2 ))
if [ $(( $# % 2 )) != 0 ]; then
	echo "finch-profile.sh: a buddy's address without its alias" >&2
	exit 2
fi

conv_size=${FINCH_CONV_SIZE:-}
case $conv_size in
*[!0-9x]* | *x*x*) bad=1 ;;
'' | [0-9]*x[0-9]*) bad=0 ;;
*) bad=1 ;;
esac
if [ $bad = 1 ]; then
	echo "finch-profile.sh: FINCH_CONV_SIZE is WIDTHxHEIGHT, not '$conv_size'" >&2
	exit 2
fi

xml() { printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e "s/'/\&apos;/g"; }

mkdir -p "$dir/plugins"
cp "$plugins/libparley.so" "$plugins/parley.so" "$dir/plugins/"
chmod 700 "$dir"

cat > "$dir/accounts.xml" <<XML
<?xml version='1.0' encoding='UTF-8' ?>
<account version='1.0'>
 <account>
  <protocol>prpl-parley</protocol>
  <name>$(xml "$name")</name>
  <password>$(xml "$pass")</password>
  <settings>
   <setting name='port' type='int'>$port</setting>
   <setting name='listen' type='bool'>1</setting>
   <setting name='protocol' type='string'>$protocol</setting>
  </settings>
  <settings ui='gnt-purple'>
   <setting name='auto-login' type='bool'>1</setting>
  </settings>
  <settings ui='gtk-gaim'>
   <setting name='auto-login' type='bool'>1</setting>
  </settings>
 </account>
</account>
XML

contact() {
	cat <<XML
   <contact>
    <buddy account='$(xml "$name")' proto='prpl-parley'>
     <name>$(xml "$1")</name>
     <alias>$(xml "$2")</alias>
    </buddy>
   </contact>
XML
}

{
	cat <<XML
<?xml version='1.0' encoding='UTF-8' ?>
<purple version='1.0'>
 <blist>
  <group name='Parley'>
XML
	contact "$buddy" "$alias"
	while [ $# -ge 2 ]; do
		contact "$1" "$2"
		shift 2
	done
	cat <<XML
  </group>
 </blist>
</purple>
XML
} > "$dir/blist.xml"

# Finch's default size and place for new conversation windows
conv_prefs() {
	[ -n "$conv_size" ] || return 0
	cat <<XML
  <pref name='conversations'>
   <pref name='size'>
    <pref name='width' type='int' value='${conv_size%x*}'/>
    <pref name='height' type='int' value='${conv_size#*x}'/>
   </pref>
   <pref name='position'>
    <pref name='x' type='int' value='0'/>
    <pref name='y' type='int' value='0'/>
   </pref>
  </pref>
XML
}

cat > "$dir/prefs.xml" <<XML
<?xml version='1.0' encoding='UTF-8' ?>
<pref version='1' name='/'>
 <pref name='purple'>
  <pref name='network'>
   <pref name='map_ports' type='bool' value='0'/>
   <pref name='auto_ip' type='bool' value='0'/>
  </pref>
  <pref name='away'>
   <pref name='away_when_idle' type='bool' value='0'/>
  </pref>
  <pref name='logging'>
   <pref name='log_ims' type='bool' value='0'/>
   <pref name='log_chats' type='bool' value='0'/>
   <pref name='log_system' type='bool' value='0'/>
  </pref>
 </pref>
 <pref name='finch'>
$(conv_prefs)
  <pref name='plugins'>
   <pref name='loaded' type='pathlist'>
    <item value='$(xml "$dir")/plugins/parley.so'/>
   </pref>
  </pref>
 </pref>
 <pref name='pidgin'>
  <pref name='plugins'>
   <pref name='loaded' type='pathlist'>
    <item value='$(xml "$dir")/plugins/parley.so'/>
   </pref>
  </pref>
 </pref>
</pref>
XML
